import request from "supertest";
import { argon2Passwords, type Passwords } from "../src/auth/passwords";
import {
  cookiePair,
  csrfOf,
  flashesOf,
  formErrorsOf,
  logIn,
  logOut,
  PASSWORD,
  sessionIdFrom,
  sessionIdOf,
  setCookieHeaders,
  signUp,
  textOf,
  useTestApp,
  visits,
  type Agent,
} from "./helpers";

describe("sign-up", () => {
  const t = useTestApp();

  test("creates the account, logs in, greets, and redirects home", async () => {
    const browser = t.agent();
    const res = await signUp(browser, "ada");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    const home = await browser.get("/");
    expect(textOf(home.text, "user")).toBe("ada");
    expect(flashesOf(home.text)).toEqual([{ category: "success", text: "Welcome, ada" }]);
  });

  test("stores the password as an argon2id hash, never as given", async () => {
    await signUp(t.agent(), "hashed");
    const [row] = await t.db.query<{ h: string }>(
      "SELECT password_hash AS h FROM users WHERE username = 'hashed'",
    );
    expect(row!.h).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(row!.h).not.toContain(PASSWORD);
  });

  test.each([
    ["a name too short", "ab", PASSWORD, "Username: use 3 to 32"],
    ["a name too long", "a".repeat(33), PASSWORD, "Username: use 3 to 32"],
    ["a name with a space", "ada lovelace", PASSWORD, "Username: use 3 to 32"],
    ["a name with a slash", "../etc", PASSWORD, "Username: use 3 to 32"],
    ["a password too short", "shortpw", "1234567", "Password: use 8 to 1024 characters"],
    ["a password too long", "longpw", "x".repeat(1025), "Password: use 8 to 1024 characters"],
    ["an empty name", "", PASSWORD, "Username: use 3 to 32"],
  ])("refuses %s with 400, keeping the name and saying why", async (_case, username, password, reason) => {
    const browser = t.agent();
    const _csrf = await csrfOf(browser, "/signup");
    const res = await browser.post("/signup").type("form").send({ username, password, _csrf });
    expect(res.status).toBe(400);
    expect(formErrorsOf(res.text).join(" ")).toContain(reason);
    if (username) expect(res.text).toContain(`value="${username.replace(/\//g, "/")}"`);
    expect(await t.users.findByName(username)).toBeUndefined();
  });

  test("accepts the limits: a 3-letter name and an 8-character password", async () => {
    const res = await signUp(t.agent(), "a.b", "12345678");
    expect(res.status).toBe(303);
  });

  test("refuses a taken name with 409, whatever its case", async () => {
    await signUp(t.agent(), "Grace");
    const res = await signUp(t.agent(), "grace");
    expect(res.status).toBe(409);
    expect(formErrorsOf(res.text)).toEqual(["That username is taken: choose another one."]);
    expect(res.text).toContain('value="grace"');
    expect((await t.users.findByName("Grace"))?.username).toBe("Grace");
  });

  test("a form field sent twice is refused, not crashed on", async () => {
    const browser = t.agent();
    const _csrf = await csrfOf(browser, "/signup");
    const res = await browser
      .post("/signup")
      .type("form")
      .send(`_csrf=${_csrf}&username=a1&username=b2&password=${PASSWORD}`);
    expect(res.status).toBe(400);
  });
});

describe("sign-up with a taken name", () => {
  // The time of an answer is not asserted (it depends on the machine): the argon2 hashes
  // the site makes are counted instead, the real ones still running.
  const hashes: string[] = [];
  const counting: Passwords = {
    ...argon2Passwords,
    hash: (password) => (hashes.push(password), argon2Passwords.hash(password)),
  };
  const t = useTestApp({}, { passwords: counting });

  test("costs the same argon2 hash as a free name", async () => {
    expect((await signUp(t.agent(), "Hopper", "first passphrase")).status).toBe(303);
    expect(hashes).toEqual(["first passphrase"]);
    expect((await signUp(t.agent(), "hopper", "second passphrase")).status).toBe(409);
    expect(hashes).toEqual(["first passphrase", "second passphrase"]);
  });
});

describe("log-in", () => {
  const t = useTestApp();
  beforeAll(async () => {
    await signUp(t.agent(), "linus");
  });

  test("logs in, greets, and changes the session id (the old one is no longer logged in)", async () => {
    const browser = t.agent();
    const before = sessionIdFrom(await browser.get("/"))!; // the counter makes a session; /login does not
    expect(before).toBeTruthy();
    const res = await logIn(browser, "linus");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    const after = sessionIdFrom(res)!;
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    expect(await t.storedIds()).not.toContain(before);

    const home = await browser.get("/");
    expect(flashesOf(home.text)).toEqual([{ category: "success", text: "Welcome back, linus" }]);
    expect(textOf(home.text, "user")).toBe("linus");
  });

  test("the name is matched whatever its case, and shown as it was registered", async () => {
    const browser = t.agent();
    await logIn(browser, "LINUS");
    expect(textOf((await browser.get("/")).text, "user")).toBe("linus");
  });

  test("the visit count survives log-in", async () => {
    const browser = t.agent();
    await visits(browser);
    await visits(browser);
    await logIn(browser, "linus");
    expect(await visits(browser)).toBe(3);
  });

  test("a new CSRF token comes with the new session", async () => {
    const browser = t.agent();
    const before = await csrfOf(browser, "/login");
    await logIn(browser, "linus");
    const after = await csrfOf(browser, "/logout");
    expect(after).not.toBe(before);
  });

  test.each([
    ["a wrong password", "linus", "wrong password!"],
    ["an unknown user", "nobody-here", PASSWORD],
  ])("%s gets 401 and the same generic message", async (_case, username, password) => {
    const browser = t.agent();
    const res = await logIn(browser, username, password);
    expect(res.status).toBe(401);
    expect(formErrorsOf(res.text)).toEqual(["Invalid username or password."]);
    expect(res.text).toContain(`value="${username}"`);
    expect(textOf((await browser.get("/")).text, "user")).toBeUndefined();
  });

  test("an unknown user and a wrong password produce the same page", async () => {
    const strip = (html: string) => html.replace(/value="[^"]*"/g, "");
    const wrong = await logIn(t.agent(), "linus", "wrong password!");
    const unknown = await logIn(t.agent(), "nobody-here", "wrong password!");
    expect(strip(unknown.text.replace("nobody-here", "linus"))).toBe(strip(wrong.text));
  });

  test.each([
    ["no username", { password: PASSWORD }],
    ["no password", { username: "linus" }],
    ["an empty password", { username: "linus", password: "" }],
  ])("%s gets 400", async (_case, fields) => {
    const browser = t.agent();
    const _csrf = await csrfOf(browser, "/login");
    const res = await browser
      .post("/login")
      .type("form")
      .send({ ...fields, _csrf });
    expect(res.status).toBe(400);
    expect(formErrorsOf(res.text)).toEqual(["Enter your username and your password."]);
  });

  test.each([
    ["/secret", "/secret"],
    ["/secret?tab=1", "/secret?tab=1"],
    ["//evil.example", "/"],
    ["https://evil.example", "/"],
    ["/\\evil.example", "/"],
    ["javascript:alert(1)", "/"],
    ["", "/"],
  ])("next=%j sends the visitor to %s", async (next, location) => {
    const res = await logIn(t.agent(), "linus", PASSWORD, { next });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(location);
  });

  test("the login page carries ?next= into its form, and drops a foreign one", async () => {
    expect((await t.agent().get("/login?next=%2Fsecret")).text).toContain('name="next" value="/secret"');
    expect((await t.agent().get("/login?next=%2F%2Fevil.example")).text).toContain('name="next" value="/"');
  });
});

describe("log-out", () => {
  const t = useTestApp();
  let browser: Agent;
  beforeEach(async () => {
    browser = t.agent();
    await signUp(browser, `user${Math.random().toString(36).slice(2, 10)}`);
  });

  test("deletes the session, clears the cookie, and shows the message once", async () => {
    const id = await sessionIdOf(t, browser);
    const res = await logOut(browser);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    expect(setCookieHeaders(res).some((c) => /^sid=;.*Expires=Thu, 01 Jan 1970/.test(c))).toBe(true);
    expect(id).toBeDefined();
    expect(await t.storedIds()).not.toContain(id);

    const home = await browser.get("/");
    expect(home.text).toContain("You are not logged in");
    expect(flashesOf(home.text)).toEqual([{ category: "info", text: "You have been logged out." }]);
    expect(flashesOf((await browser.get("/")).text)).toEqual([]);
  });

  test("GET /logout changes nothing: it only shows the button", async () => {
    const res = await browser.get("/logout");
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/<form method="post" action="\/logout">/);
    expect(textOf((await browser.get("/")).text, "user")).toBeDefined();
  });

  test("a replayed cookie from before log-out is no longer logged in", async () => {
    const name = `replay${Math.random().toString(36).slice(2, 8)}`;
    const replayer = t.agent();
    const signedUp = await signUp(replayer, name);
    const cookie = cookiePair(signedUp);
    expect((await request(t.app).get("/secret").set("Cookie", cookie)).status).toBe(200);
    await logOut(replayer);
    expect((await request(t.app).get("/secret").set("Cookie", cookie)).status).toBe(303);
  });
});

describe("CSRF protection", () => {
  const t = useTestApp();

  test.each(["/login", "/signup", "/logout"])("POST %s without a token gets the 403 page", async (path) => {
    const browser = t.agent();
    await browser.get("/login");
    const res = await browser.post(path).type("form").send({ username: "x", password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.text).toContain("This form has expired");
  });

  test("a token from another session is refused", async () => {
    const other = await csrfOf(t.agent(), "/signup");
    const browser = t.agent();
    await browser.get("/signup");
    const res = await browser
      .post("/signup")
      .type("form")
      .send({ username: "mallory", password: PASSWORD, _csrf: other });
    expect(res.status).toBe(403);
    expect(await t.users.findByName("mallory")).toBeUndefined();
  });

  test("a token sent without any session is refused", async () => {
    const res = await request(t.app).post("/logout").type("form").send({ _csrf: "abc" });
    expect(res.status).toBe(403);
  });

  test("a logged-in user cannot be logged out by another site's form", async () => {
    const browser = t.agent();
    await signUp(browser, "victim");
    const res = await browser.post("/logout").type("form").send({});
    expect(res.status).toBe(403);
    expect(textOf((await browser.get("/")).text, "user")).toBe("victim");
  });
});

describe("bad requests", () => {
  const t = useTestApp();

  test("a body over the size limit gets a readable 413", async () => {
    const browser = t.agent();
    const _csrf = await csrfOf(browser, "/login");
    const res = await browser
      .post("/login")
      .type("form")
      .send({ _csrf, username: "x".repeat(20_000), password: "y" });
    expect(res.status).toBe(413);
    expect(res.text).toContain("too large");
  });

  test("a malformed body gets a readable 4xx, never a 500", async () => {
    const res = await t
      .agent()
      .post("/login")
      .set("Content-Type", "application/x-www-form-urlencoded; charset=klingon")
      .send("a=b");
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});
