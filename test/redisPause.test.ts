// Redis frozen for a while (SIGSTOP), then running again (SIGCONT), under two instances:
// what was sent during the pause reaches Redis late, and must not lock anybody out.
import path from "node:path";
import { cookiePair, tempDir, TEST_SECRET } from "./helpers";
import { getHome, newSession } from "./overHttp";
import { startServer, stop, type Started } from "./processes";
import { useRedis } from "./redisServer";

/** A page load that gives up after `ms` (a user who waits that long has given up too). */
async function homeWithin(url: string, cookie: string, ms: number) {
  const res = await fetch(`${url}/`, { headers: { cookie }, signal: AbortSignal.timeout(ms) });
  return { status: res.status, text: await res.text() };
}

describe("Redis paused, then resumed", () => {
  const redis = useRedis();
  const dir = tempDir();
  let servers: Started[];
  let a: string;
  let b: string;
  beforeAll(async () => {
    const env = {
      SESSION_SECRET: TEST_SECRET,
      SESSION_STORE: "redis",
      REDIS_URL: redis.url,
      DATABASE_PATH: path.join(dir, "handstamp.db"),
    };
    servers = [startServer(env, dir), startServer(env, dir)];
    [a, b] = (await Promise.all(servers.map((s) => s.listening))) as [string, string];
  });
  afterAll(async () => {
    redis.resume();
    await Promise.all(servers.map(stop));
  });

  test("a request during the pause gets a 503; after it, the session answers at once on both instances, its data intact", async () => {
    const { cookie } = await newSession(a);
    expect((await getHome(b, cookie)).visits).toBe(2);

    redis.pause();
    const during = await fetch(`${a}/`, { headers: { cookie } });
    expect(during.status).toBe(503);
    expect(await during.text()).toContain("try again");
    redis.resume();

    const onB = await homeWithin(b, cookie, 2_000);
    expect(onB.status).toBe(200);
    const onA = await homeWithin(a, cookie, 2_000);
    expect(onA.status).toBe(200);
    expect((await getHome(b, cookie)).visits).toBe(5); // the 503 counted nothing
  });

  test("during the pause, a first visit and a log-in (counted in Redis) get a 503, never hang", async () => {
    const form = await fetch(`${a}/login`);
    const csrf = cookiePair(form, "csrf");
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    redis.pause();
    try {
      // The store's own calls give up after 1 s (connection) or 3 s (answer): 10 s is a hang.
      const first = await fetch(`${a}/`, { signal: AbortSignal.timeout(10_000) });
      expect(first.status).toBe(503);
      const logIn = await fetch(`${a}/login`, {
        method: "POST",
        headers: { cookie: csrf, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ username: "paused", password: "whatever it is", _csrf: token }),
        signal: AbortSignal.timeout(10_000),
      });
      expect(logIn.status).toBe(503);
    } finally {
      redis.resume();
    }
  });
});
