// The account pages: change the password (ending every other session), and see and end
// your own sessions.
import request from "supertest";
import {
  cookiePair,
  csrfFrom,
  csrfOf,
  flashesOf,
  formErrorsOf,
  logIn,
  PASSWORD,
  sessionIdFrom,
  sessionIdOf,
  signUp,
  useTestApp,
  type Agent,
  isLoggedIn,
} from "./helpers";

const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";

/** Posts a form of the account pages with the page's own CSRF token. */
async function submit(agent: Agent, page: string, action: string, fields: Record<string, string> = {}) {
  const _csrf = await csrfOf(agent, page);
  return agent
    .post(action)
    .type("form")
    .send({ ...fields, _csrf });
}

/** The rows of /account/sessions: browser text, whether "this device", revoke action. */
async function sessionRows(agent: Agent) {
  const html = (await agent.get("/account/sessions")).text;
  return [...html.matchAll(/<tr data-testid="session-row">([\s\S]*?)<\/tr>/g)].map((m) => ({
    browser: /<td>([^<]*)/.exec(m[1]!)![1]!.trim(),
    current: m[1]!.includes('data-testid="this-device"'),
    revoke: /action="(\/account\/sessions\/[^/"]+\/revoke)"/.exec(m[1]!)?.[1],
  }));
}

/** One user logged in on `count` separate browsers, each with its own User-Agent. */
async function devices(username: string, userAgents: string[]): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (const ua of userAgents) {
    const agent = t.agent().set("User-Agent", ua);
    if (agents.length === 0) await signUp(agent, username);
    else await logIn(agent, username);
    agents.push(agent);
  }
  return agents;
}

/**
 * Another browser holding only this session's cookie (stolen, say): not the owner's
 * known-device cookie. It answers the password form with `fields`.
 */
function thiefOf(sessionCookie: string) {
  return async function changePassword(fields: { current: string; password: string }) {
    const page = await request(t.app).get("/account").set("Cookie", sessionCookie);
    return request(t.app)
      .post("/account/password")
      .set("Cookie", sessionCookie)
      .type("form")
      .send({ ...fields, _csrf: csrfFrom(page.text) });
  };
}

const t = useTestApp();

describe("the account page", () => {
  test("needs a log-in", async () => {
    const res = await t.agent().get("/account");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?next=%2Faccount");
  });

  test("a password change renews the session id and ends every other session", async () => {
    const [laptop, phone, tablet] = await devices("changer", [FIREFOX, SAFARI_IPHONE, "curl/8.0"]);
    const before = await t.storedIds();
    const res = await submit(laptop!, "/account", "/account/password", {
      current: PASSWORD,
      password: "a brand new passphrase",
    });
    expect(res.status).toBe(303);
    const newId = sessionIdFrom(res)!;
    expect(before).not.toContain(newId);
    expect(flashesOf((await laptop!.get("/account")).text)).toEqual([
      { category: "success", text: "Your password was changed. 2 other sessions were logged out." },
    ]);
    expect(await isLoggedIn(laptop!)).toBe(true);
    expect(await isLoggedIn(phone!)).toBe(false);
    expect(await isLoggedIn(tablet!)).toBe(false);
    expect((await logIn(t.agent(), "changer", PASSWORD)).status).toBe(401);
    expect((await logIn(t.agent(), "changer", "a brand new passphrase")).status).toBe(303);
  });

  test("a wrong current password or a short new one changes nothing", async () => {
    const [laptop] = await devices("careful", [FIREFOX]);
    const res = await submit(laptop!, "/account", "/account/password", {
      current: "not it at all",
      password: "short",
    });
    expect(res.status).toBe(400);
    expect(formErrorsOf(res.text)).toEqual([
      "Current password: that is not your password.",
      "New password: use 8 to 1024 characters.",
    ]);
    expect((await logIn(t.agent(), "careful", PASSWORD)).status).toBe(303);
  });

  test("the forms need their CSRF token", async () => {
    const [laptop] = await devices("guarded", [FIREFOX]);
    const res = await laptop!
      .post("/account/password")
      .type("form")
      .send({ current: PASSWORD, password: "x".repeat(12) });
    expect(res.status).toBe(403);
    expect((await laptop!.post("/account/sessions/others").type("form").send({})).status).toBe(403);
  });
});

describe("your sessions", () => {
  test("lists each logged-in browser, marks this one, and names the browsers", async () => {
    const [laptop] = await devices("lister", [FIREFOX, SAFARI_IPHONE]);
    const rows = await sessionRows(laptop!);
    expect(rows.map((r) => [r.browser, r.current])).toEqual(
      expect.arrayContaining([
        ["Firefox on Linux", true],
        ["Safari on iOS", false],
      ]),
    );
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.current)!.revoke).toBeUndefined(); // log out instead
  });

  test("Revoke ends that session: its browser is logged out and its record deleted", async () => {
    const [laptop, phone] = await devices("revoker", [FIREFOX, SAFARI_IPHONE]);
    const laptopId = await sessionIdOf(t, laptop!);
    const phoneId = await sessionIdOf(t, phone!);
    const target = (await sessionRows(laptop!)).find((r) => !r.current)!;
    const res = await submit(laptop!, "/account/sessions", target.revoke!);
    expect(res.status).toBe(303);
    expect(await t.storedIds()).not.toContain(phoneId);
    expect(await t.storedIds()).toContain(laptopId);
    expect(await isLoggedIn(phone!)).toBe(false);
    expect(await isLoggedIn(laptop!)).toBe(true);
    expect(await sessionRows(laptop!)).toHaveLength(1);
  });

  test("Log out everywhere else keeps only this session", async () => {
    const [laptop, phone, tablet] = await devices("everywhere", [FIREFOX, SAFARI_IPHONE, "curl/8.0"]);
    expect((await submit(laptop!, "/account/sessions", "/account/sessions/others")).status).toBe(303);
    expect(await isLoggedIn(phone!)).toBe(false);
    expect(await isLoggedIn(tablet!)).toBe(false);
    expect(await sessionRows(laptop!)).toEqual([expect.objectContaining({ current: true })]);
  });

  test("another user's session cannot be revoked, nor seen", async () => {
    const [victim] = await devices("victim", [FIREFOX]);
    const [attacker] = await devices("attacker", [SAFARI_IPHONE, "curl/8.0"]);
    const victimRevoke = (await sessionRows(victim!))[0]!;
    expect(victimRevoke.revoke).toBeUndefined(); // own session: no button; take the handle from the index
    const [{ handle }] = (await t.db.query<{ handle: string }>(
      "SELECT l.handle FROM logins l JOIN users u ON u.id = l.user_id WHERE u.username = 'victim'",
    )) as [{ handle: string }];
    const res = await submit(attacker!, "/account/sessions", `/account/sessions/${handle}/revoke`);
    expect(res.status).toBe(404);
    expect(await isLoggedIn(victim!)).toBe(true);
    const page = (await attacker!.get("/account/sessions")).text;
    expect(page).not.toContain("Firefox");
  });

  test("revoke handles are random and opaque: they do not count the site's log-ins", async () => {
    const [laptop] = await devices("counted", [FIREFOX, SAFARI_IPHONE, "curl/8.0"]);
    const handles = (await sessionRows(laptop!))
      .map((row) => row.revoke && /\/account\/sessions\/([^/]+)\/revoke/.exec(row.revoke)![1]!)
      .filter((handle) => handle !== undefined);
    expect(handles).toHaveLength(2);
    for (const handle of handles) expect(handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(handles).size).toBe(2);
    // The row id (which a sequential handle would be) names nothing.
    const [{ rowId }] = (await t.db.query<{ rowId: number }>('SELECT max(id) AS "rowId" FROM logins')) as [
      { rowId: number },
    ];
    const res = await submit(laptop!, "/account/sessions", `/account/sessions/${rowId}/revoke`);
    expect(res.status).toBe(404);
    expect(await sessionRows(laptop!)).toHaveLength(3);
  });

  test("a session index row goes away at log-out", async () => {
    const [laptop, phone] = await devices("leaver", [FIREFOX, SAFARI_IPHONE]);
    await submit(phone!, "/logout", "/logout");
    expect(await sessionRows(laptop!)).toEqual([expect.objectContaining({ browser: "Firefox on Linux" })]);
  });

  test("a bad handle is a 404, not a 500", async () => {
    const [laptop] = await devices("prober", [FIREFOX]);
    for (const handle of ["abc", "1e309", "-1", "99999999999999999999"]) {
      expect((await submit(laptop!, "/account/sessions", `/account/sessions/${handle}/revoke`)).status).toBe(
        404,
      );
    }
    expect((await request(t.app).get("/account/sessions")).status).toBe(303);
  });
});

describe("guessing the current password", () => {
  const NEW = { password: "the thief's own passphrase" };

  test("40 wrong guesses from a stolen session lock the account: the right one is refused after them", async () => {
    const owner = t.agent();
    const thief = thiefOf(cookiePair(await signUp(owner, "stolen")));
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++)
      statuses.push((await thief({ current: `guess number ${i}`, ...NEW })).status);
    expect(statuses).toEqual([...Array(5).fill(400), ...Array(35).fill(429)]);
    const res = await thief({ current: PASSWORD, ...NEW });
    expect(res.status).toBe(429);
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(formErrorsOf(res.text)).toEqual([
      "Too many wrong passwords for this account. Try again in a minute.",
    ]);
    expect(await isLoggedIn(owner)).toBe(true); // nothing was changed, nobody was logged out
    expect((await logIn(owner, "stolen", PASSWORD)).status).toBe(303);
  });

  test("wrong passwords at log-in and at the password form add up to one lock", async () => {
    const owner = t.agent();
    const thief = thiefOf(cookiePair(await signUp(owner, "mixed")));
    for (let i = 0; i < 3; i++) expect((await logIn(t.agent(), "mixed", "wrong password!")).status).toBe(401);
    for (let i = 0; i < 2; i++)
      expect((await thief({ current: "wrong password!", ...NEW })).status).toBe(400);
    expect((await logIn(t.agent(), "mixed", PASSWORD)).status).toBe(429);
    expect((await thief({ current: PASSWORD, ...NEW })).status).toBe(429);
    // The owner's browser is known: it has a budget of its own, untouched by all that.
    const res = await submit(owner, "/account", "/account/password", {
      current: PASSWORD,
      password: "the owner's new passphrase",
    });
    expect(res.status).toBe(303);
  });
});
