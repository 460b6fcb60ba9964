// The session's lifetimes on an injectable clock (no sleeps): idle timeout, absolute
// timeout from log-in, remember-me, secret rotation, and a log-in ended elsewhere.
import { unsign } from "cookie-signature";
import request from "supertest";
import { EXPIRED_MESSAGE, LOGIN_RECHECK_MS } from "../src/auth/loginSessions";
import { createLogins } from "../src/auth/logins";
import {
  cookiePair,
  csrfOf,
  PASSWORD,
  setsCookie,
  flashesOf,
  logIn,
  makeTestApp,
  reopen,
  sessionIdFrom,
  setCookieHeaders,
  signUp,
  TEST_SECRET,
  visits,
  type Agent,
  type TestApp,
  isLoggedIn,
  signedCookie,
} from "./helpers";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An app whose clock the test moves. */
function appWithClock(env: Record<string, string> = {}) {
  const clock = { now: Date.now() };
  const t = makeTestApp(env, { now: () => clock.now });
  return { t, clock, advance: (ms: number) => (clock.now += ms) };
}

/** Follows the redirect to the login page and returns its flashes. */
async function loginPageFlashes(agent: Agent): Promise<string[]> {
  const res = await agent.get("/secret");
  expect(res.status).toBe(303);
  return flashesOf((await agent.get(res.headers.location!)).text).map((f) => `${f.category}: ${f.text}`);
}

describe.each(["file", "memory"])("session lifetimes (%s store)", (store) => {
  let app: ReturnType<typeof appWithClock>;
  let t: TestApp;

  test("a session idle for longer than SESSION_IDLE_TIMEOUT is gone, and the user is told why", async () => {
    app = appWithClock({ SESSION_STORE: store });
    t = app.t;
    const agent = t.agent();
    await signUp(agent, "idle");
    app.advance(29 * MINUTE);
    expect(await isLoggedIn(agent)).toBe(true); // activity pushes the expiry
    app.advance(29 * MINUTE);
    expect(await isLoggedIn(agent)).toBe(true);
    app.advance(31 * MINUTE);
    expect(await loginPageFlashes(agent)).toEqual([`info: ${EXPIRED_MESSAGE}`]);
    expect(await isLoggedIn(agent)).toBe(false);
  });

  test("an anonymous session expires too, silently", async () => {
    app = appWithClock({ SESSION_STORE: store });
    t = app.t;
    const agent = t.agent();
    await visits(agent);
    expect(await visits(agent)).toBe(2);
    app.advance(31 * MINUTE);
    const res = await agent.get("/");
    expect(flashesOf(res.text)).toEqual([]);
    expect(await visits(agent)).toBe(2); // started again: 1, then 2
  });

  test("SESSION_ABSOLUTE_TIMEOUT after log-in, even an active user logs in again", async () => {
    app = appWithClock({ SESSION_STORE: store, SESSION_IDLE_TIMEOUT: "1d" });
    t = app.t;
    const agent = t.agent();
    await signUp(agent, "busy");
    for (let hour = 0; hour < 11; hour++) {
      app.advance(HOUR);
      expect(await isLoggedIn(agent)).toBe(true);
    }
    app.advance(HOUR - MINUTE); // 11:59 after log-in
    expect(await isLoggedIn(agent)).toBe(true);
    app.advance(2 * MINUTE); // 12:01
    expect(await loginPageFlashes(agent)).toEqual([`info: ${EXPIRED_MESSAGE}`]);
  });

  test("remember me: a persistent cookie, and the session outlives the idle and absolute timeouts", async () => {
    app = appWithClock({ SESSION_STORE: store });
    t = app.t;
    await signUp(t.agent(), "keeper");
    const agent = t.agent();
    const res = await logIn(agent, "keeper", undefined, { remember: "on" });
    const cookie = setCookieHeaders(res).find((c) => c.startsWith("sid="))!;
    expect(cookie).toMatch(/; Max-Age=2592000; /);
    expect(cookie).toMatch(/; Expires=/);
    app.advance(2 * DAY); // far past 30 minutes idle and 12 hours absolute
    expect(await isLoggedIn(agent)).toBe(true);
    app.advance(29 * DAY);
    expect(await isLoggedIn(agent)).toBe(false);
  });

  test("without remember me the cookie has no Max-Age: it ends with the browser", async () => {
    app = appWithClock({ SESSION_STORE: store });
    t = app.t;
    await signUp(t.agent(), "forgetful");
    const res = await logIn(t.agent(), "forgetful");
    const cookie = setCookieHeaders(res).find((c) => c.startsWith("sid="))!;
    expect(cookie).not.toMatch(/Max-Age|Expires/);
  });
});

describe("secret rotation", () => {
  test("a cookie signed with the old secret is accepted and re-issued signed with the new one", async () => {
    const before = makeTestApp({ SESSION_SECRET: "old-secret" });
    const agent = before.agent();
    expect(await visits(agent)).toBe(1);
    const oldId = before.sessionFiles()[0]!;
    await before.close();
    const after = reopen(before, { SESSION_SECRET: `${TEST_SECRET},old-secret` });
    const res = await request(after.app).get("/").set("Cookie", signedCookie(oldId, "old-secret"));
    expect(res.text).toContain('data-testid="visits">2<'); // the same session
    const reissued = decodeURIComponent(cookiePair(res)).slice("sid=s:".length);
    expect(unsign(reissued, TEST_SECRET)).toBe(oldId);
    expect(setCookieHeaders(res)[0]).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    // A cookie signed with the new secret is not re-issued.
    const next = await request(after.app).get("/secret").set("Cookie", signedCookie(oldId, TEST_SECRET));
    expect(setCookieHeaders(next).filter((line) => line.startsWith("sid="))).toEqual([]);
  });

  test("a cookie signed with a secret no longer listed gets a fresh id", async () => {
    const t = makeTestApp();
    const agent = t.agent();
    await visits(agent);
    const id = t.sessionFiles()[0]!;
    const res = await request(t.app).get("/").set("Cookie", signedCookie(id, "retired-secret"));
    expect(res.text).toContain('data-testid="visits">1<');
    expect(sessionIdFrom(res)).not.toBe(id);
  });
});

describe("a log-in ended elsewhere", () => {
  test("stays ended even when a page view that loaded it earlier saves it afterwards", async () => {
    const t = makeTestApp();
    await signUp(t.agent(), "resurrect");
    const phone = t.agent();
    await logIn(phone, "resurrect", PASSWORD, { remember: "on" });
    const phoneId = (await t.storedIds())[0]!;
    // A page seen logged in: its log-in found live in the database. A remembered session
    // that changed gets its cookie again (with a fresh Max-Age) on every page.
    expect(setsCookie(await phone.get("/"), "sid")).toBe(true);

    // The phone's next page view loads its session, then waits (the test holds it there).
    const store = t.storage.store;
    const get = store.get.bind(store);
    let loaded!: () => void;
    let goOn!: () => void;
    const wasLoaded = new Promise<void>((resolve) => (loaded = resolve));
    const mayGoOn = new Promise<void>((resolve) => (goOn = resolve));
    store.get = async (id) => {
      const record = await get(id);
      if (id === phoneId) {
        loaded();
        await mayGoOn;
      }
      return record;
    };
    const view = phone.get("/").then((res) => res);
    await wasLoaded;
    store.get = get;

    // Meanwhile the user ends every other session from a laptop, through another instance
    // of the app (which deletes the log-in row and the record, as here; this instance has
    // found the phone's log-in live a moment ago, and does not read its row again yet).
    await createLogins(t.db).remove(phoneId);
    await store.destroy(phoneId);
    goOn();
    const answer = await view;
    expect(answer.status).toBe(200);
    // The view counted a visit, but the session it had loaded is not written back, nor its
    // cookie sent again.
    expect(setsCookie(answer, "sid")).toBe(false);
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await t.storedIds()).not.toContain(phoneId);
  });
});

describe("a log-in ended through this instance whose record could not be deleted", () => {
  test("is ended at its next page view all the same", async () => {
    const t = makeTestApp();
    await signUp(t.agent(), "undeleted");
    const phone = t.agent();
    await logIn(phone, "undeleted");
    expect(await isLoggedIn(phone)).toBe(true); // its log-in found live a moment ago
    const laptop = t.agent();
    await logIn(laptop, "undeleted");
    // The store fails the deletes of "log out everywhere else" (logged, not shown).
    const store = t.storage.store;
    const destroy = store.destroy.bind(store);
    store.destroy = () => Promise.reject(new Error("the disk said no"));
    const _csrf = await csrfOf(laptop, "/account/sessions");
    expect((await laptop.post("/account/sessions/others").type("form").send({ _csrf })).status).toBe(303);
    store.destroy = destroy;
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await isLoggedIn(laptop)).toBe(true);
  });
});

describe("a log-in row deleted behind the app's back", () => {
  test("(not through a log-out or a revoke, which delete the session too) ends the session within a minute", async () => {
    const { t, advance } = appWithClock();
    const agent = t.agent();
    await signUp(agent, "behind");
    await visits(agent); // its log-in found live: the next minute's page views do not ask again
    const [id] = await t.storedIds();
    await createLogins(t.db).remove(id!);
    advance(LOGIN_RECHECK_MS);
    expect(await isLoggedIn(agent)).toBe(false);
    expect(await t.storedIds()).not.toContain(id);
  });
});

describe("a record written before log-ins had one shape", () => {
  test("(session.name and session.userId, no session.user) is logged out, and told so", async () => {
    const t = makeTestApp();
    const agent = t.agent();
    await signUp(agent, "oldshape");
    const id = t.sessionFiles()[0]!;
    const { data } = (await t.storage.store.get(id))!;
    const { user, ...rest } = data;
    const old: Partial<typeof data> & { name: string; userId: number } = {
      ...rest,
      name: user.name,
      userId: user.id,
    };
    await t.storage.store.set(id, old, 30 * MINUTE);
    expect(await loginPageFlashes(agent)).toEqual([`info: ${EXPIRED_MESSAGE}`]);
    expect(await isLoggedIn(agent)).toBe(false);
  });
});
