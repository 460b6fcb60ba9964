// WEB_CONCURRENCY=2: two worker processes on one port behind a primary, as deployed.
// No update is lost across them, a dead worker is replaced, a stop finishes what is in flight.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir, TEST_SECRET } from "./helpers";
import { concurrentVisits, expectEveryCountOnce, getHome, newSession } from "./overHttp";
import { ROOT, startProcess, startServer, stop, type Started } from "./processes";
import { LOCKS_FOLDER } from "../src/sessions/storage";

function clusterEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WEB_CONCURRENCY: "2",
    SESSION_SECRET: TEST_SECRET,
    SESSION_DIR: path.join(dir, "sessions"),
    DATABASE_PATH: path.join(dir, "data", "handstamp.db"),
    SESSION_LOCK_TIMEOUT: "30s",
    ...extra,
  };
}

/** The pids the primary has said it started, in order. */
const workersStarted = (server: Started) =>
  [...server.output().matchAll(/worker (\d+) started/g)].map((m) => Number(m[1]));

/** The pids in the workers' request log lines (JSON, one per request). */
const pidsInRequestLog = (server: Started) =>
  new Set([...server.output().matchAll(/^\{.*"pid":(\d+)/gm)].map((m) => Number(m[1])));

describe("WEB_CONCURRENCY=2 with the file store", () => {
  const dir = tempDir();
  let server: Started;
  let url: string;
  beforeAll(async () => {
    server = startServer(clusterEnv(dir, { LOG_LEVEL: "info" }), dir);
    url = await server.listening;
  }, 60_000);
  afterAll(async () => {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  });

  test("the primary names its two workers and where the site is", () => {
    expect(new Set(workersStarted(server)).size).toBe(2);
    expect(server.output()).toMatch(
      /listening on http:\/\/127\.0\.0\.1:\d+ \(development, file sessions, 2 workers\)/,
    );
  });

  test("200 concurrent views of one session, served by both workers, count exactly 200", async () => {
    const { cookie } = await newSession(url);
    expectEveryCountOnce(await concurrentVisits([url], cookie), 2);
    expect((await getHome(url, cookie)).visits).toBe(202);
    const [first, second] = workersStarted(server);
    expect(pidsInRequestLog(server)).toEqual(new Set([first, second]));
  });

  test("a worker killed with SIGKILL is said to have died and is replaced; sessions go on", async () => {
    const { cookie } = await newSession(url);
    const [victim] = workersStarted(server);
    process.kill(victim!, "SIGKILL");
    await server.waitFor(new RegExp(`worker ${victim} died \\(killed by SIGKILL\\)`));
    await server.waitFor(/(worker \d+ started[\s\S]*){3}/);
    expect(new Set(workersStarted(server)).size).toBe(3);
    expect(await Promise.all([getHome(url, cookie), getHome(url, cookie)])).toEqual(
      expect.arrayContaining([
        { status: 200, visits: 2 },
        { status: 200, visits: 3 },
      ]),
    );
  });
});

describe("stopping WEB_CONCURRENCY=2", () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("SIGTERM with a slow request in flight: it is answered, every worker stops, the primary exits 0", async () => {
    const server = startServer(clusterEnv(dir), dir);
    const url = await server.listening;
    const { cookie, id } = await newSession(url);
    // Another process holds this session's lock, so the next view waits in a worker.
    const holder = startProcess(
      path.join(ROOT, "test", "fixtures", "holdLock.ts"),
      [path.join(dir, "sessions", LOCKS_FOLDER), id],
      {},
      ROOT,
    );
    await holder.waitFor(/held/);
    const slow = getHome(url, cookie);
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // for the request to reach a worker
    server.child.kill("SIGTERM");
    await server.waitFor(/(SIGTERM received, finishing requests in flight[\s\S]*){2}/);
    holder.child.kill("SIGKILL"); // the lock's owner is dead: the waiting view takes it
    await holder.exited;
    expect(await slow).toEqual({ status: 200, visits: 2 });
    const run = await server.exited;
    expect(run.code).toBe(0);
    expect(run.stdout.match(/worker \d+ stopped \(exit code 0\)/g)).toHaveLength(2);
  }, 90_000);
});

describe("WEB_CONCURRENCY=2 when workers cannot start", () => {
  test("the primary gives up after a few quick deaths, with one line saying why, and exits 1", async () => {
    const dir = tempDir();
    try {
      mkdirSync(path.join(dir, "sessions"));
      writeFileSync(path.join(dir, "a-file"), "");
      // Ten worker starts or so on a busy machine: more than a start is given to listen.
      const run = await startServer(
        clusterEnv(dir, { DATABASE_PATH: path.join(dir, "a-file", "handstamp.db") }),
        dir,
        { startDeadlineMs: 170_000, lifetimeMs: 170_000 },
      ).exited;
      expect(run.code).toBe(1);
      const lines = run.stderr.trim().split("\n");
      expect(lines.filter((line) => line.includes("giving up"))).toEqual([
        expect.stringMatching(/^handstamp: giving up: 5 workers in a row died while starting/),
      ]);
      expect(lines.filter((line) => /worker \d+ died/.test(line))).toHaveLength(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
