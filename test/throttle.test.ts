// Log-in throttling (OWASP Authentication cheat sheet): per account with a growing delay
// that a known browser escapes, per client address with 429 and Retry-After.
import { setTimeout as sleep } from "node:timers/promises";
import { lockoutDelayMs, ACCOUNT_RULES } from "../src/auth/throttle";
import { csrfOf, formErrorsOf, logIn, makeTestApp, PASSWORD, signUp, type TestApp } from "./helpers";

/** Short delays, so the tests can wait them out: 1 s, then 2 s, capped at 4 s. */
const FAST = { failures: 5, windowMs: 15 * 60_000, firstDelayMs: 1_000, maxDelayMs: 4_000 };

async function failTimes(t: TestApp, username: string, times: number) {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await logIn(t.agent(), username, "wrong password!")).status);
  return statuses;
}

/**
 * Log-ins sent all at once, each from a fresh browser: every form is fetched first, then
 * every POST goes out before any answer comes back. Resolves to the statuses.
 */
async function parallelLogIns(t: TestApp, usernames: string[], password = "wrong password!") {
  const forms = await Promise.all(
    usernames.map(async (username) => {
      const agent = t.agent();
      return { agent, username, _csrf: await csrfOf(agent, "/login") };
    }),
  );
  const answers = await Promise.all(
    forms.map(({ agent, username, _csrf }) =>
      agent.post("/login").type("form").send({ username, password, _csrf }),
    ),
  );
  return answers.map((res) => res.status);
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length;

describe("per account", () => {
  let t: TestApp;
  beforeEach(() => {
    t = makeTestApp({ AUTH_RATE_LIMIT: "off" }, { accountRules: FAST });
  });

  test("after 5 failures, even the right password is refused for a while, with Retry-After", async () => {
    await signUp(t.agent(), "target");
    expect(await failTimes(t, "target", 5)).toEqual([401, 401, 401, 401, 401]);
    const res = await logIn(t.agent(), "target", PASSWORD);
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("1");
    expect(formErrorsOf(res.text)).toEqual([
      "Too many failed log-ins for this account. Try again in a minute.",
    ]);
    await sleep(1_100);
    expect((await logIn(t.agent(), "target", PASSWORD)).status).toBe(303);
  });

  test("each new lock lasts longer, up to a cap", async () => {
    await signUp(t.agent(), "twice");
    await failTimes(t, "twice", 5);
    expect((await logIn(t.agent(), "twice")).headers["retry-after"]).toBe("1");
    await sleep(1_100);
    await failTimes(t, "twice", 5);
    expect((await logIn(t.agent(), "twice")).headers["retry-after"]).toBe("2");
    expect([1, 2, 3, 4, 5, 6].map((n) => lockoutDelayMs(n) / 60_000)).toEqual([1, 2, 4, 8, 15, 15]);
    expect(ACCOUNT_RULES).toMatchObject({ failures: 5, windowMs: 15 * 60_000 });
  });

  test("a name with no account is locked the same way, with the same words", async () => {
    expect(await failTimes(t, "nobody-at-all", 5)).toEqual([401, 401, 401, 401, 401]);
    const res = await logIn(t.agent(), "nobody-at-all", PASSWORD);
    expect(res.status).toBe(429);
    expect(formErrorsOf(res.text)).toEqual([
      "Too many failed log-ins for this account. Try again in a minute.",
    ]);
  });

  test("a browser that logged in to the account before is not locked out by someone else's failures", async () => {
    const owner = t.agent();
    await signUp(owner, "owner");
    await failTimes(t, "owner", 5); // an attacker, from fresh browsers
    expect((await logIn(t.agent(), "owner")).status).toBe(429);
    expect((await logIn(owner, "owner")).status).toBe(303); // the owner's browser
  });

  test("25 wrong passwords sent at once get 5 tries, not 25", async () => {
    await signUp(t.agent(), "rushed");
    const statuses = await parallelLogIns(t, Array(25).fill("rushed"));
    expect(count(statuses, 401)).toBe(5);
    expect(count(statuses, 429)).toBe(20);
    expect((await logIn(t.agent(), "rushed", PASSWORD)).status).toBe(429);
  });

  test("locking one account leaves the others alone", async () => {
    await signUp(t.agent(), "locked");
    await signUp(t.agent(), "free");
    await failTimes(t, "locked", 5);
    expect((await logIn(t.agent(), "free")).status).toBe(303);
  });
});

describe("names that cannot be accounts", () => {
  let t: TestApp;
  beforeEach(() => {
    t = makeTestApp({ AUTH_RATE_LIMIT: "off" }); // the real delays: nothing here waits them out
  });

  test("failing as 'victim|device' and as 'victim' does not keep the victim's own browser out", async () => {
    const victim = t.agent();
    await signUp(victim, "victim");
    expect(await failTimes(t, "victim|device", 5)).toEqual([401, 401, 401, 401, 401]);
    expect(await failTimes(t, "victim", 5)).toEqual([401, 401, 401, 401, 401]);
    expect((await logIn(t.agent(), "victim")).status).toBe(429); // other browsers are held
    const res = await logIn(victim, "victim");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
  });

  test("a name the rule forbids gets the same answer as a wrong password, and never a lock", async () => {
    const statuses = await failTimes(t, "victim|device", 8);
    expect(statuses).toEqual(Array(8).fill(401));
    const res = await logIn(t.agent(), "victim|device", PASSWORD);
    expect(res.status).toBe(401);
    expect(formErrorsOf(res.text)).toEqual(["Invalid username or password."]);
  });
});

describe("per client address", () => {
  let t: TestApp;
  beforeEach(() => {
    t = makeTestApp({ AUTH_RATE_LIMIT: "3/1m" });
  });

  test("a burst of failed log-ins gets 429 with Retry-After, whatever the account", async () => {
    expect(await failTimes(t, "one", 2)).toEqual([401, 401]);
    expect(await failTimes(t, "two", 1)).toEqual([401]);
    const res = await logIn(t.agent(), "three", "anything at all");
    expect(res.status).toBe(429);
    expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(formErrorsOf(res.text)).toEqual(["Too many attempts from your network. Try again in a minute."]);
  });

  test("failed log-ins sent at once from one address get what is left of the budget, not more", async () => {
    await signUp(t.agent(), "crowded"); // one of the 3
    const statuses = await parallelLogIns(t, Array(10).fill("crowded"));
    expect(count(statuses, 401)).toBe(2);
    expect(count(statuses, 429)).toBe(8);
  });

  test("log-ins with names the rule forbids count too", async () => {
    expect(await failTimes(t, "no such | name", 3)).toEqual([401, 401, 401]);
    const res = await logIn(t.agent(), "somebody", "anything at all");
    expect(res.status).toBe(429);
    expect(formErrorsOf(res.text)).toEqual(["Too many attempts from your network. Try again in a minute."]);
  });

  test("sign-ups count too, and a refused one creates no account", async () => {
    for (const name of ["signer1", "signer2", "signer3"])
      expect((await signUp(t.agent(), name)).status).toBe(303);
    const res = await signUp(t.agent(), "signer4");
    expect(res.status).toBe(429);
    expect(await t.users.findByName("signer4")).toBeUndefined();
  });

  test("successful log-ins are not counted", async () => {
    await signUp(t.agent(), "regular");
    for (let i = 0; i < 5; i++) expect((await logIn(t.agent(), "regular")).status).toBe(303);
  });
});
