// Sessions on Redis, against a real redis-server started here: two instances sharing
// it, the lock and the throttle across them, the CLI, and Redis going away mid-run.
import type { SessionData } from "express-session";
import { createClient } from "redis";
import { runSessionsCli } from "../src/sessions/cli";
import {
  cookiePair,
  csrfFrom,
  makeTestApp,
  setsCookie,
  signUp,
  tempDir,
  TEST_SECRET,
  visits,
  type TestApp,
} from "./helpers";
import { concurrentVisits, expectEveryCountOnce, getHome, newSession } from "./overHttp";
import { startServer, stop, type Started } from "./processes";
import { useRedis } from "./redisServer";
import path from "node:path";

/** The "name=…" a response sets, if it sets that cookie. */
const setCookie = (res: Response, name: string) =>
  setsCookie(res, name) ? cookiePair(res, name) : undefined;

/** A form posted like a browser: its page first (for the CSRF token), then the POST. */
async function postForm(
  url: string,
  page: string,
  action: string,
  cookie: string,
  fields: Record<string, string>,
) {
  const form = await fetch(`${url}${page}`, { headers: { cookie } });
  const sent = setCookie(form, "sid");
  // A visitor without a session gets its form's token with a csrf cookie instead.
  const csrf = setCookie(form, "csrf");
  const jar = [sent ?? cookie, csrf].filter(Boolean).join("; ");
  const res = await fetch(`${url}${action}`, {
    method: "POST",
    headers: { cookie: jar, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...fields, _csrf: csrfFrom(await form.text()) }),
    redirect: "manual",
  });
  const renewed = setCookie(res, "sid");
  return { status: res.status, cookie: renewed ?? jar, res };
}

const PASSWORD = "correct horse battery staple";

function instancesEnv(redisUrl: string, dir: string) {
  return {
    SESSION_SECRET: TEST_SECRET,
    SESSION_STORE: "redis",
    REDIS_URL: redisUrl,
    DATABASE_PATH: path.join(dir, "handstamp.db"), // users and the session index: shared
    SESSION_LOCK_TIMEOUT: "30s",
  };
}

describe("two instances sharing one Redis", () => {
  const redis = useRedis();
  const dir = tempDir();
  let servers: Started[];
  let a: string;
  let b: string;
  beforeAll(async () => {
    servers = [
      startServer(instancesEnv(redis.url, dir), dir),
      startServer(instancesEnv(redis.url, dir), dir),
    ];
    [a, b] = (await Promise.all(servers.map((s) => s.listening))) as [string, string];
  });
  afterAll(async () => {
    await Promise.all(servers.map(stop));
  });

  test("log in on A, continue on B; log out on B, and A's copy is gone", async () => {
    const signedUp = await postForm(a, "/signup", "/signup", "", { username: "roamer", password: PASSWORD });
    expect(signedUp.status).toBe(303);
    const onB = await fetch(`${b}/secret`, { headers: { cookie: signedUp.cookie }, redirect: "manual" });
    expect(onB.status).toBe(200);
    expect(await onB.text()).toContain('data-testid="user">roamer<');
    expect((await postForm(b, "/logout", "/logout", signedUp.cookie, {})).status).toBe(303);
    const onA = await fetch(`${a}/secret`, { headers: { cookie: signedUp.cookie }, redirect: "manual" });
    expect(onA.status).toBe(303);
  });

  test("200 concurrent views of one session split between them count exactly 200", async () => {
    const { cookie } = await newSession(a);
    expectEveryCountOnce(await concurrentVisits([a, b], cookie), 2);
    expect((await getHome(b, cookie)).visits).toBe(202);
  });

  test("the log-in throttle counts failures on both", async () => {
    await postForm(a, "/signup", "/signup", "", { username: "guarded", password: PASSWORD });
    for (let i = 0; i < 5; i++) {
      const { status } = await postForm(i % 2 ? a : b, "/login", "/login", "", {
        username: "guarded",
        password: "wrong!!!",
      });
      expect(status).toBe(401);
    }
    expect(
      (await postForm(a, "/login", "/login", "", { username: "guarded", password: PASSWORD })).status,
    ).toBe(429);
    expect(
      (await postForm(b, "/login", "/login", "", { username: "guarded", password: PASSWORD })).status,
    ).toBe(429);
  });
});

describe("the per-session lock in Redis", () => {
  const redis = useRedis();
  let t: TestApp;
  let client: ReturnType<typeof createClient>;
  beforeAll(async () => {
    t = makeTestApp({ SESSION_STORE: "redis", REDIS_URL: redis.url, SESSION_LOCK_TIMEOUT: "1s" });
    client = createClient({ url: redis.url });
    client.on("error", () => undefined); // Redis stops before this client after the tests
    await client.connect();
  });
  afterAll(async () => {
    client.destroy();
    await t.close();
  });

  test("a session locked by another instance waits, then gets a 503 with Retry-After, changing nothing", async () => {
    const agent = t.agent();
    await visits(agent);
    const [id] = await t.storedIds();
    await client.set(`${t.config.redisPrefix}lock:${id}`, "another-instance", { PX: 60_000 });
    const res = await agent.get("/");
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("2");
    await client.del(`${t.config.redisPrefix}lock:${id}`);
    expect(await visits(agent)).toBe(2);
  });

  test("a lock is released only by its owner", async () => {
    const id = "A".repeat(43);
    const release = await t.storage.locks.acquire(id);
    const key = `${t.config.redisPrefix}lock:${id}`;
    expect(await client.pTTL(key)).toBeGreaterThan(50_000);
    await client.set(key, "taken-over-after-the-deadline");
    await release();
    expect(await client.get(key)).toBe("taken-over-after-the-deadline");
  });

  test("the CLI lists, shows and clears the sessions in Redis", async () => {
    await signUp(t.agent(), "cli-redis");
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runSessionsCli(args, t.config, { out: (l) => out.push(l), err: (l) => out.push(l) });
      return { code, out: out.join("\n") };
    };
    const list = await run("list");
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/\bcli-redis\b/);
    expect(list.out).toMatch(/live sessions? in Redis at redis:\/\/127\.0\.0\.1:\d+/);
    const id = (await t.storedIds())[0]!;
    const show = await run("show", id.slice(0, 10));
    expect(show.code).toBe(0);
    expect(show.out).not.toContain(id);
    expect((await run("clear-all", "--yes")).out).toMatch(/^Removed [1-9]\d* sessions?\.$/);
    expect(await t.storedIds()).toEqual([]);
  });

  test("a session written back as loaded is not brought back once deleted (SET XX)", async () => {
    const store = t.storage.store;
    const id = "B".repeat(43);
    await store.set(id, { visits: 1 } as SessionData, 60_000);
    expect(await store.set(id, { visits: 2 } as SessionData, 60_000, { existing: true })).toBe(true);
    expect((await store.get(id))?.data).toMatchObject({ visits: 2 });
    await store.destroy(id); // ended elsewhere meanwhile
    expect(await store.set(id, { visits: 3 } as SessionData, 60_000, { existing: true })).toBe(false);
    expect(await store.get(id)).toBeUndefined();
    expect(await client.exists(`${t.config.redisPrefix}sess:${id}`)).toBe(0);
  });

  test("session keys live as long as the idle timeout", async () => {
    const agent = t.agent();
    await visits(agent);
    const ids = await t.storedIds();
    const ttl = await client.pTTL(`${t.config.redisPrefix}sess:${ids[0]}`);
    expect(ttl).toBeGreaterThan(29 * 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * 60_000);
  });
});

describe("Redis stopped mid-run", () => {
  const redis = useRedis();
  const dir = tempDir();
  let server: Started;
  let url: string;
  beforeAll(async () => {
    server = startServer(instancesEnv(redis.url, dir), dir);
    url = await server.listening;
  });
  afterAll(async () => {
    await stop(server);
  });

  test("503 pages while it is down, no exit, and service resumes with every saved session", async () => {
    const { cookie } = await newSession(url);
    await getHome(url, cookie);
    expect((await getHome(url, cookie)).visits).toBe(3);

    await redis.stop("SIGKILL");
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/`, { headers: { cookie } });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await res.text()).toContain("try again");
    }
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: "unavailable",
      store: "unavailable",
      database: "ok",
    });
    expect(server.child.exitCode).toBeNull();

    await redis.restart();
    // A deadline on the clock: each /healthz may itself wait for the connection a while.
    const giveUpAt = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < giveUpAt) {
      status = (await fetch(`${url}/healthz`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect(await getHome(url, cookie)).toEqual({ status: 200, visits: 4 });
  });
});

/** Waits until the app answers /healthz with 200 again (the client reconnects on its own). */
async function untilHealthy(agent: ReturnType<TestApp["agent"]>) {
  const giveUpAt = Date.now() + 10_000;
  while ((await agent.get("/healthz")).status !== 200) {
    if (Date.now() > giveUpAt) throw new Error("the app did not see Redis again within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("Redis killed while a request holds its session's lock", () => {
  const redis = useRedis();
  let t: TestApp;
  beforeAll(() => {
    t = makeTestApp({ SESSION_STORE: "redis", REDIS_URL: redis.url, SESSION_LOCK_TIMEOUT: "10s" });
  });
  afterAll(() => t.close());

  test("once Redis is back, the session answers at once, not after the lock's 60 s", async () => {
    const agent = t.agent();
    expect(await visits(agent)).toBe(1);
    const [id] = await t.storedIds();
    const release = await t.storage.locks.acquire(id!); // a request in flight
    await redis.stop("SIGKILL"); // the lock is on disk (appendfsync always)
    await expect(release()).rejects.toThrow(); // its release cannot reach Redis
    await redis.restart();
    await untilHealthy(agent);
    const res = await agent.get("/").timeout(5_000); // a generous deadline, not a measure
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-testid="visits">2<');
  });
});
