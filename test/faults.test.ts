// Faults lose nothing: the server killed under load, and the sessions folder taken away
// while it runs.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { makeTestApp, tempDir, TEST_SECRET, visits, type TestApp } from "./helpers";
import { getHome, newSession, visitsIn } from "./overHttp";
import { describeNeeding } from "./needs";
import { startServer, stop, type Started } from "./processes";
import { useRedis } from "./redisServer";

/**
 * Keeps each browser (cookie) loading the counter page, one request after another, and
 * kills the server mid-load: once `killAfterMs` has passed and every browser has seen at
 * least two pages (on a busy machine the first pages can take longer than that). Returns
 * the highest count each browser saw in a complete response.
 */
async function loadUntilKilled(url: string, cookies: string[], server: Started, killAfterMs: number) {
  const seen = cookies.map(() => 0);
  const killAt = Date.now() + killAfterMs;
  let killed = false;
  await Promise.all(
    cookies.map(async (cookie, i) => {
      while (!killed) {
        try {
          const res = await fetch(`${url}/`, { headers: { cookie } });
          const count = visitsIn(await res.text()); // the whole body: a complete response
          if (res.status === 200) seen[i] = Math.max(seen[i]!, count);
        } catch {
          return; // the connection died with the server
        }
        if (!killed && Date.now() >= killAt && seen.every((n) => n > 1)) {
          killed = true;
          server.child.kill("SIGKILL");
        }
      }
    }),
  );
  await server.exited;
  return seen;
}

const sigkillUnderLoad = (store: "file" | "redis") => () => {
  const redis = store === "redis" ? useRedis() : undefined;
  const dir = tempDir();
  const env = () => ({
    SESSION_SECRET: TEST_SECRET,
    SESSION_STORE: store,
    SESSION_DIR: path.join(dir, "sessions"),
    DATABASE_PATH: path.join(dir, "handstamp.db"),
    ...(redis && { REDIS_URL: redis.url }),
  });

  test("after a restart, every session parses and shows at least the count its last response showed", async () => {
    const first = startServer(env(), dir);
    const url = await first.listening;
    const cookies = await Promise.all(Array.from({ length: 20 }, async () => (await newSession(url)).cookie));
    const seen = await loadUntilKilled(url, cookies, first, 1_500);
    expect(Math.min(...seen)).toBeGreaterThan(1); // the load did run

    if (store === "file") {
      const files = readdirSync(env().SESSION_DIR).filter((name) => name.endsWith(".json"));
      expect(files.length).toBeGreaterThanOrEqual(cookies.length);
      for (const name of files)
        expect(() => JSON.parse(readFileSync(path.join(env().SESSION_DIR, name), "utf8"))).not.toThrow();
    }
    const second = startServer(env(), dir);
    const again = await second.listening;
    try {
      const after = await Promise.all(cookies.map((cookie) => getHome(again, cookie)));
      after.forEach((page, i) => {
        expect(page.status).toBe(200);
        expect(page.visits).toBeGreaterThan(seen[i]!); // this visit counts on top of every saved one
      });
    } finally {
      await stop(second);
    }
  });
};
describe("SIGKILL under load (file store)", sigkillUnderLoad("file"));
describeNeeding(["redis"], "SIGKILL under load (redis store)", sigkillUnderLoad("redis"));

describe("the sessions folder taken away while the server runs", () => {
  let t: TestApp;
  const logged: string[] = [];
  beforeEach(() => {
    logged.length = 0;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged.push(String(chunk));
        done();
      },
    });
    t = makeTestApp({ SESSION_STORE: "file" }, { logger: pino({ level: "error" }, sink) });
  });

  test.each([
    ["missing", (dir: string) => rmSync(dir, { recursive: true })],
    [
      "replaced by a file (unusable)",
      (dir: string) => {
        renameSync(dir, `${dir}.aside`);
        writeFileSync(dir, "");
      },
    ],
  ])("%s: a 503 page and a clear log line, no crash, and it recovers when fixed", async (_case, breakIt) => {
    const regular = t.agent();
    expect(await visits(regular)).toBe(1);
    breakIt(t.config.sessionDir);

    for (const agent of [regular, t.agent()]) {
      const res = await agent.get("/");
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.text).toContain("Sessions cannot be stored right now.");
    }
    expect((await t.agent().get("/healthz")).status).toBe(503);
    expect(logged.join("")).toMatch(/"msg":"session store unavailable"/);
    expect(logged.join("")).toContain(t.config.sessionDir);

    rmSync(t.config.sessionDir, { recursive: true, force: true });
    mkdirSync(t.config.sessionDir);
    expect((await t.agent().get("/healthz")).status).toBe(200);
    expect(await visits(t.agent())).toBe(1);
  });
});
