// GET /session: the visitor's own session, shown as the server sees it.
import request from "supertest";
import {
  logIn,
  logOut,
  makeTestApp,
  reopen,
  setCookieHeaders,
  signUp,
  textOf,
  useTestApp,
  visits,
  type Agent,
  signedCookie,
} from "./helpers";

/** The text of an element by data-testid, tags removed. */
function section(html: string, testId: string): string {
  const match = new RegExp(`<(\\w+)[^>]*data-testid="${testId}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return (match?.[2] ?? "")
    .replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

async function inspect(agent: Agent) {
  const res = await agent.get("/session");
  expect(res.status).toBe(200);
  return res;
}

describe("the session inspector", () => {
  const t = useTestApp();

  test("is linked from the nav, and stores nothing for a visitor without a session", async () => {
    const res = await inspect(t.agent());
    expect(res.text).toContain('<a href="/session" aria-current="page">Your session</a>');
    expect(section(res.text, "cookie")).toContain("Your browser sent no session cookie");
    expect(section(res.text, "record")).toContain(
      `Nothing is stored for you in the ${t.config.sessionStore} store`,
    );
    expect(section(res.text, "response-set-cookie")).toContain("(none");
    expect(setCookieHeaders(res)).toEqual([]);
  });

  test("shows the cookie's short id, the file behind it, and the stored data", async () => {
    const agent = t.agent();
    await visits(agent);
    await visits(agent);
    const before = new Set(await t.storedIds());
    const res = await inspect(agent);
    const id = [...before].find((f) => res.text.includes(f.slice(0, 8)))!;
    expect(id).toBeDefined();
    expect(res.text).not.toContain(id); // never the whole id, not even in the file name
    expect(textOf(res.text, "cookie-id")).toBe(`${id.slice(0, 8)}…`);
    expect(textOf(res.text, "store-kind")).toBe(t.config.sessionStore);
    // Where the file lies within SESSION_DIR, or its Redis key: never a path outside it.
    const where = t.config.sessionStore === "redis" ? `^${t.config.redisPrefix}sess:` : "^";
    expect(textOf(res.text, "record-location")).toMatch(new RegExp(`${where}${id.slice(0, 8)}…(\\.json)?$`));
    expect(res.text).not.toContain(t.dir);
    expect(textOf(res.text, "record-size")).toMatch(/^\d+ bytes$/);
    const data = JSON.parse(section(res.text, "session-data"));
    expect(data).toMatchObject({ visits: 2, createdAt: expect.any(Number) });
    expect(data.cookie).toMatchObject({ httpOnly: true, path: "/" });
    expect(section(res.text, "request-cookie")).toMatch(/^sid=s%3A.{6}…$/);
  });

  test("shows no CSRF token, and the log-in's absolute expiry", async () => {
    const agent = t.agent();
    await signUp(agent, "inspected");
    await agent.get("/"); // its Log out form has a CSRF token: an HMAC, never kept in the session
    const res = await inspect(agent);
    const data = JSON.parse(section(res.text, "session-data"));
    expect(data).toMatchObject({ user: { name: "inspected" } });
    expect(data).not.toHaveProperty("csrfToken");
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!;
    expect(res.text.split(token)).toHaveLength(2); // only in the page's own Log out form
    expect(section(res.text, "clocks")).toMatch(
      /Absolute expiry\d{4}-\d\d-\d\dT[\d:.]+Z: 12 hours after you logged in/,
    );
  });

  test("never shows another visitor's data", async () => {
    const alice = t.agent();
    const bob = t.agent();
    await signUp(alice, "alice-inspect");
    await visits(bob);
    const page = (await inspect(bob)).text;
    expect(page).not.toContain("alice-inspect");
    expect(JSON.parse(section(page, "session-data"))).toMatchObject({ visits: 1 });
  });
});

describe("the inspector's account of every cookie", () => {
  test.each([
    ["development", "test", ""],
    ["production", "production", "__Host-"],
  ])("in %s, names and explains each cookie the browser sends", async (_, env, prefix) => {
    const t = makeTestApp({ NODE_ENV: env });
    // What a browser holds after logging in, out and coming back: the session's cookie,
    // the known device's, the log-out message's and the CSRF defence's, and one cookie
    // of another app on the same host.
    const held = [
      `${prefix}sid=s%3Aanything.forged`,
      `${prefix}device=kV3q0Xw9sTz1mYp8uLc4bNf6hRj2eAd7gKo5iWx0yQs`,
      `${prefix}flash=logged-out`,
      `${prefix}csrf=Yq3RkS0dXhTz9wCvLm2a`,
      "elsewhere=another-app-on-this-host",
    ];
    const res = await request(t.app).get("/session").set("Cookie", held.join("; "));
    expect(res.status).toBe(200);

    for (const base of ["sid", "device", "flash", "csrf"]) {
      expect(textOf(res.text, `cookie-name-${base}`)).toBe(`${prefix}${base}`);
      expect(section(res.text, `cookie-about-${base}`)).toContain("sent with this request");
      expect(section(res.text, `cookie-about-${base}`)).not.toContain("not sent");
    }
    expect(section(res.text, "cookie-about-device")).toMatch(
      /keyed hash .* not the name itself\. It lasts one year/,
    );
    expect(section(res.text, "cookie-about-flash")).toMatch(/one of a few fixed messages.*It lasts a minute/);
    expect(section(res.text, "cookie-about-csrf")).toMatch(/random value.*signed double-submit/);
    expect(section(res.text, "other-cookies")).toMatch(/sent cookies this site never sets: elsewhere\./);
  });

  test("says which cookies this browser did not send, and gives their lifetimes as set", async () => {
    const t = makeTestApp();
    const agent = t.agent();
    const signedUp = await signUp(agent, "fresh-cookies");
    const page = (await inspect(agent)).text;
    expect(section(page, "cookie-about-device")).toContain("sent with this request");
    expect(section(page, "cookie-about-flash")).toContain("not sent with this request");
    // The sign-up form was shown before there was a session: its token came with a csrf cookie.
    expect(section(page, "cookie-about-csrf")).toContain("sent with this request");
    expect(section(page, "cookie-about-csrf")).not.toContain("not sent with this request");
    expect(page).not.toContain('data-testid="other-cookies"');
    // The page's "one year" is the Max-Age the browser was given.
    const device = setCookieHeaders(signedUp).find((line) => line.startsWith("device="))!;
    expect(device).toContain(`Max-Age=${365 * 86_400}`);
    const flash = setCookieHeaders(await logOut(agent)).find((line) => line.startsWith("flash="))!;
    expect(flash).toContain("Max-Age=60;");
  });
});

describe("the inspector's Set-Cookie line", () => {
  test("is this response's own header: here a cookie re-issued after a secret rotation", async () => {
    const first = makeTestApp({ SESSION_SECRET: "old-secret" });
    await visits(first.agent());
    const id = (await first.storedIds())[0]!;
    await first.close();
    const t = reopen(first, { SESSION_SECRET: "new-secret,old-secret" });
    const res = await request(t.app).get("/session").set("Cookie", signedCookie(id, "old-secret"));
    const sent = setCookieHeaders(res);
    expect(sent).toHaveLength(1);
    const shown = section(res.text, "response-set-cookie");
    expect(shown).toBe(`${sent[0]!.replace(/^(sid=.{10})[^;]*/, "$1…")}`);
  });

  test("and for a remembered log-in, the cookie's Max-Age is explained", async () => {
    const t = makeTestApp();
    await signUp(t.agent(), "remembered");
    const agent = t.agent();
    await logIn(agent, "remembered", undefined, { remember: "on" });
    const res = await inspect(agent);
    expect(res.text).toContain("<code>Max-Age</code> of 30 days");
  });
});
