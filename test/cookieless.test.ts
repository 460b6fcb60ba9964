// Visitors without a cookie (crawlers, scripts, a flood): pages with forms store nothing,
// the counter page stores at most SESSION_CREATE_LIMIT sessions per address, and over
// plain HTTP in production nothing is stored at all. Records are counted in the store,
// whatever it is (this file also runs on Redis).
import request from "supertest";
import { csrfCookieName } from "../src/http/csrf";
import { PLAIN_HTTP_WARNING } from "../src/sessions/admission";
import {
  capturedLog,
  cookiePair,
  cookielessViews,
  csrfFrom,
  csrfOf,
  flashesOf,
  logIn,
  PASSWORD,
  reopen,
  sessionIdFrom,
  setCookieHeaders,
  signUp,
  TEST_SECRET,
  textOf,
  useTestApp,
} from "./helpers";

const setsSessionCookie = (res: { headers: Record<string, unknown> }) =>
  setCookieHeaders(res).some((line) => /^(__Host-)?sid=/.test(line));

describe("a page with a form, seen without a cookie", () => {
  const t = useTestApp();

  test("2,000 views of /login store no session and send no session cookie", async () => {
    const before = await t.storedIds();
    const pages = await cookielessViews(t, "/login", 2_000);
    expect(pages.filter((res) => res.status !== 200).map((res) => res.status)).toEqual([]);
    expect(pages.some(setsSessionCookie)).toBe(false);
    expect(await t.storedIds()).toEqual(before);
  });

  test.each(["/signup", "/cart", "/logout", "/secret", "/account", "/account/sessions"])(
    "20 views of %s store nothing",
    async (path) => {
      const before = await t.storedIds();
      const pages = await cookielessViews(t, path, 20);
      expect(pages.some(setsSessionCookie)).toBe(false);
      expect(await t.storedIds()).toEqual(before);
    },
  );

  test("its form still works: the token comes with a small cookie of its own", async () => {
    await signUp(t.agent(), "formuser");
    const page = await request(t.app).get("/login");
    const cookie = cookiePair(page, csrfCookieName(t.config));
    expect(setCookieHeaders(page)[0]).toMatch(/^csrf=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    const res = await request(t.app)
      .post("/login")
      .set("Cookie", cookie)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), username: "formuser", password: PASSWORD });
    expect(res.status).toBe(303);
    expect(setsSessionCookie(res)).toBe(true);
  });

  test("the 'please log in' notice still shows, carried by the flash cookie", async () => {
    const browser = t.agent();
    const before = (await t.storedIds()).length;
    const res = await browser.get("/secret");
    expect(res.status).toBe(303);
    expect(setsSessionCookie(res)).toBe(false);
    const login = await browser.get(res.headers.location!);
    expect(flashesOf(login.text)).toEqual([{ category: "error", text: "Please log in to see this page." }]);
    expect(await t.storedIds()).toHaveLength(before);
  });
});

describe("the CSRF token", () => {
  const t = useTestApp();

  test("seen before log-in, it is refused after it", async () => {
    const browser = t.agent();
    await signUp(t.agent(), "rotating");
    const before = await csrfOf(browser, "/login");
    await logIn(browser, "rotating");
    const res = await browser.post("/logout").type("form").send({ _csrf: before });
    expect(res.status).toBe(403);
    expect(textOf((await browser.get("/")).text, "user")).toBe("rotating");
  });

  test("seen in a session with a cart before log-in, it is refused after it", async () => {
    const browser = t.agent();
    await signUp(t.agent(), "shopper");
    const _csrf = await csrfOf(browser, "/cart");
    await browser.post("/cart/items").type("form").send({ product: "cookie-jar", quantity: "1", _csrf });
    const before = await csrfOf(browser, "/cart");
    await logIn(browser, "shopper");
    const res = await browser.post("/logout").type("form").send({ _csrf: before });
    expect(res.status).toBe(403);
  });

  test("a token with the right length but the wrong value is refused", async () => {
    const browser = t.agent();
    const token = await csrfOf(browser, "/signup");
    const wrong = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    const res = await browser
      .post("/signup")
      .type("form")
      .send({ username: "forged", password: PASSWORD, _csrf: wrong });
    expect(res.status).toBe(403);
    expect(res.text).toContain("This form has expired");
    expect(await t.users.findByName("forged")).toBeUndefined();
  });

  test("a form made before a secret rotation still works after it", async () => {
    const page = await request(t.app).get("/signup");
    const cookie = cookiePair(page, "csrf");
    const rotated = reopen(t, { SESSION_SECRET: `${"n".repeat(40)},${TEST_SECRET}` });
    const res = await request(rotated.app)
      .post("/signup")
      .set("Cookie", cookie)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), username: "rotated", password: PASSWORD });
    expect(res.status).toBe(303);
    expect(await rotated.users.findByName("rotated")).toBeDefined();
  });
});

describe("new sessions per address (SESSION_CREATE_LIMIT)", () => {
  const t = useTestApp({ TRUST_PROXY: "loopback", SESSION_CREATE_LIMIT: "60/1m" });
  const from = (address: string) => ({ "X-Forwarded-For": address });

  test("2,000 views of the counter from one address store at most 60 sessions; every page still renders", async () => {
    const pages = await cookielessViews(t, "/", 2_000, from("203.0.113.7"));
    expect(pages.filter((res) => res.status !== 200).map((res) => res.status)).toEqual([]);
    expect(pages.filter((res) => textOf(res.text, "visits") !== "1")).toEqual([]);
    const made = pages.filter(setsSessionCookie).map((res) => sessionIdFrom(res)!);
    expect(made).toHaveLength(60);
    expect((await t.storedIds()).filter((id) => made.includes(id))).toHaveLength(60);
  });

  test("another address still gets its session", async () => {
    const [page] = await cookielessViews(t, "/", 1, from("198.51.100.9"));
    expect(setsSessionCookie(page!)).toBe(true);
  });

  test("past the limit, the address can still sign up and log in", async () => {
    const browser = t.agent();
    const _csrf = csrfFrom((await browser.get("/signup").set(from("203.0.113.7"))).text);
    const res = await browser
      .post("/signup")
      .set(from("203.0.113.7"))
      .type("form")
      .send({ username: "capped", password: PASSWORD, _csrf });
    expect(res.status).toBe(303);
    expect(textOf((await browser.get("/").set(from("203.0.113.7"))).text, "user")).toBe("capped");
  });
});

describe("production over plain HTTP (no TRUST_PROXY behind a TLS proxy)", () => {
  const log = capturedLog();
  const t = useTestApp({ NODE_ENV: "production" }, { logger: log.logger });

  test("nothing is stored, no cookie is sent, and the operator is warned once", async () => {
    const before = await t.storedIds();
    const pages = await cookielessViews(t, "/", 200);
    expect(pages.every((res) => res.status === 200)).toBe(true);
    expect(pages.some((res) => setCookieHeaders(res).length > 0)).toBe(false);
    await cookielessViews(t, "/login", 20);
    expect(await t.storedIds()).toEqual(before);
    const warnings = log.lines().filter((line) => line.msg === PLAIN_HTTP_WARNING);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/TRUST_PROXY/);
    expect(warnings[0]!.msg).toMatch(/X-Forwarded-Proto/);
  });

  test("a form sent gets a page that says the connection is not HTTPS, not a CSRF error", async () => {
    const before = await t.storedIds();
    const page = await request(t.app).get("/login");
    const res = await request(t.app)
      .post("/login")
      .type("form")
      .send({ _csrf: csrfFrom(page.text), username: "someone", password: PASSWORD });
    expect(res.status).toBe(400);
    expect(res.text).toContain("This connection is not HTTPS");
    expect(res.text).toContain("TRUST_PROXY");
    expect(res.text).not.toContain("This form has expired");
    expect(await t.storedIds()).toEqual(before);
  });

  test("over HTTPS the CSRF cookie is __Host-csrf, Secure", async () => {
    const secure = reopen(t, { NODE_ENV: "production", TRUST_PROXY: "loopback" });
    const page = await request(secure.app).get("/login").set("X-Forwarded-Proto", "https");
    expect(setCookieHeaders(page)[0]).toMatch(
      /^__Host-csrf=[\w-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
  });
});
