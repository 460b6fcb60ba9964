// PostgreSQL frozen (SIGSTOP, then SIGCONT), then really stopped and started again, under a
// running app: pages that need the database answer 503 with Retry-After within the pool's
// timeouts, pages that do not (the counter, an anonymous cart, the pages of a log-in
// confirmed less than a minute ago) keep working, nothing hangs or crashes, and everything
// comes back without a restart, with its data.
import {
  csrfOf,
  makeTestApp,
  PASSWORD,
  sessionIdOf,
  signUp,
  textOf,
  visits,
  type Agent,
  type TestApp,
} from "./helpers";
import { usePostgres } from "./postgresServer";

/** A user who waits this long has given up: any request still unanswered then has hung. */
const GIVE_UP_MS = 15_000;

const within = <T extends { timeout(ms: { deadline: number }): T }>(request: T) =>
  request.timeout({ deadline: GIVE_UP_MS });

const secretPage = (agent: Agent) => within(agent.get("/secret"));
// The forms are fetched first: they need no database (an anonymous visitor's pages).
const logInAs = async (agent: Agent, username: string) => {
  const _csrf = await csrfOf(agent, "/login");
  return within(agent.post("/login").type("form").send({ username, password: PASSWORD, _csrf }));
};
const signUpAs = async (agent: Agent, username: string) => {
  const _csrf = await csrfOf(agent, "/signup");
  return within(agent.post("/signup").type("form").send({ username, password: PASSWORD, _csrf }));
};
const addCookieJar = async (agent: Agent) => {
  const _csrf = await csrfOf(agent, "/cart");
  return within(agent.post("/cart/items").type("form").send({ product: "cookie-jar", quantity: "1", _csrf }));
};
const cartQuantity = async (agent: Agent) =>
  Number(/value="(\d+)" data-testid="line-quantity"/.exec((await within(agent.get("/cart"))).text)?.[1] ?? 0);

/** Asks until the answer has this status, for at most GIVE_UP_MS; resolves to the last answer. */
async function until<T extends { status: number }>(status: number, ask: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + GIVE_UP_MS;
  let answer = await ask();
  while (answer.status !== status && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await ask();
  }
  return answer;
}
const untilServed = async (ask: () => Promise<{ status: number }>) => (await until(200, ask)).status;

describe("PostgreSQL paused, then stopped, under a running app", () => {
  const postgres = usePostgres();
  let t: TestApp;
  let member: Agent;
  /** Six browsers logged in as "member", so that requests overlap without queueing on one session. */
  const members: Agent[] = [];
  let visitor: Agent;

  beforeAll(async () => {
    t = makeTestApp({ DATABASE_URL: postgres.newDatabaseUrl() });
    member = t.agent();
    await signUp(member, "member");
    // Logged in, never shown a page: their log-ins are read from the database at their
    // first page (so during an outage, those pages answer 503).
    for (let i = 0; i < 6; i++) {
      members.push(t.agent());
      await logInAs(members[i]!, "member");
    }
    await signUp(t.agent(), "kept");
    visitor = t.agent();
    await visits(visitor);
  });
  afterAll(async () => {
    postgres.resume();
    await t.close(); // while PostgreSQL runs; the fixture removes the folder
  });

  /** What a database outage looks like from every kind of page. */
  async function duringAnOutage() {
    const before = await cartQuantity(visitor);
    // Overlapping, as real traffic would be: more than the pool has connections.
    const [counter, cart, logIn, signUpRes, ...secrets] = await Promise.all([
      within(visitor.get("/")),
      addCookieJar(visitor),
      logInAs(t.agent(), "kept"),
      signUpAs(t.agent(), "newcomer"),
      ...members.flatMap((member) => [secretPage(member), secretPage(member)]),
    ]);
    // The pages that need no database are served as usual.
    expect(counter.status).toBe(200);
    expect(textOf(counter.text, "visits")).toBeDefined();
    expect(cart.status).toBe(303);
    expect(await cartQuantity(visitor)).toBe(before + 1);
    // The ones that do say "try again shortly", never a 500 or a hang.
    for (const res of [logIn, signUpRes, ...secrets]) {
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.text).toContain("Accounts cannot be reached right now");
    }
    // A healthy answer stands for a second (src/health/routes.ts): the next one tells.
    const health = await until(503, () => within(visitor.get("/healthz")));
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ store: "ok", lock: "ok", database: "unavailable" });
  }

  test("paused (SIGSTOP): 503 where the database is needed, the counter and cart still work", async () => {
    expect((await secretPage(member)).status).toBe(200);
    // A browser whose logged-in session timed out: its cookie names a record no longer stored.
    const returning = t.agent();
    await logInAs(returning, "kept");
    await t.storage.store.destroy((await sessionIdOf(t, returning))!);
    const _csrf = await csrfOf(member, "/");
    postgres.pause();
    try {
      // A log-in found live in the database less than a minute ago (just above): its pages
      // are served from the session alone; its forms, which may change something, wait for
      // the database.
      expect((await secretPage(member)).status).toBe(200);
      expect((await within(member.post("/logout").type("form").send({ _csrf }))).status).toBe(503);
      await duringAnOutage();
      // "Your session expired" needs the database; the counter does not, so it is served.
      expect((await within(returning.get("/"))).status).toBe(200);
    } finally {
      postgres.resume();
    }
  });

  test("resumed (SIGCONT): served again without a restart, the session still logged in", async () => {
    expect(await untilServed(() => secretPage(member))).toBe(200);
    expect((await logInAs(t.agent(), "kept")).status).toBe(303);
    expect((await within(t.agent().get("/healthz"))).status).toBe(200);
  });

  test("stopped (pg_ctl stop): the same 503s; started again: served again, users kept", async () => {
    await postgres.stop();
    try {
      await duringAnOutage();
    } finally {
      await postgres.start();
    }
    expect(await untilServed(() => secretPage(member))).toBe(200);
    const again = t.agent();
    expect((await logInAs(again, "kept")).status).toBe(303);
    expect((await secretPage(again)).status).toBe(200);
  });
});
