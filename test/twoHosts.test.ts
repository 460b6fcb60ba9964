// Two instances as on two hosts: real server processes, each with its own empty working
// folder and SESSION_DIR, sharing nothing but Redis (sessions, locks, throttle) and
// PostgreSQL (users, the log-in index). Started at the same moment on an empty database.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { MIGRATIONS } from "../src/db";
import { MIGRATIONS_TABLE } from "../src/db/postgres";
import { csrfFrom, PASSWORD, tempDir, TEST_SECRET, textOf } from "./helpers";
import { concurrentVisits, expectEveryCountOnce, getHome, newSession } from "./overHttp";
import { usePostgres } from "./postgresServer";
import { ROOT, startProcess, startServer, stop, type Run, type Started } from "./processes";
import { useRedis } from "./redisServer";

/** A browser over real HTTP: one cookie jar, whichever host it talks to (as behind nginx). */
function browser() {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  async function send(url: string, init: RequestInit = {}) {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...init.headers, cookie: cookie() },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const [name, value] = [pair!.slice(0, at), pair!.slice(at + 1)];
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === "") jar.delete(name);
      else jar.set(name, value);
    }
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  }
  return {
    get: (host: string, page: string) => send(`${host}${page}`),
    /** Fills in the form of `page` (its CSRF token) and posts it to `action`. */
    async submit(host: string, page: string, action: string, fields: Record<string, string>) {
      const _csrf = csrfFrom((await send(`${host}${page}`)).text);
      return send(`${host}${action}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...fields, _csrf }),
      });
    },
  };
}
type Browser = ReturnType<typeof browser>;

const signUp = (b: Browser, host: string, username: string) =>
  b.submit(host, "/signup", "/signup", { username, password: PASSWORD });
const logIn = (b: Browser, host: string, username: string, password = PASSWORD) =>
  b.submit(host, "/login", "/login", { username, password });
const loggedInAs = async (b: Browser, host: string) => textOf((await b.get(host, "/")).text, "user");

describe("two instances on Redis and PostgreSQL, nothing shared on disk", () => {
  const redis = useRedis();
  const postgres = usePostgres();
  let env: Record<string, string>;
  let hosts: { started: Started; cwd: string; sessionDir: string; url: string }[] = [];
  let runs: Run[] = [];

  beforeAll(async () => {
    env = {
      SESSION_STORE: "redis",
      REDIS_URL: redis.url,
      DATABASE_URL: postgres.newDatabaseUrl(),
      SESSION_SECRET: TEST_SECRET,
      SESSION_CREATE_LIMIT: "off",
      LOG_LEVEL: "info", // to count the migrations each one ran
    };
    const folders = [0, 1].map(() => {
      const cwd = tempDir("handstamp-host-");
      return { cwd, sessionDir: path.join(tempDir("handstamp-host-sessions-"), "sessions") };
    });
    // Both at the same moment, on an empty database.
    const started = folders.map(({ cwd, sessionDir }) =>
      startServer({ ...env, SESSION_DIR: sessionDir }, cwd),
    );
    const urls = await Promise.all(started.map((s) => s.listening));
    hosts = folders.map((f, i) => ({ ...f, started: started[i]!, url: urls[i]! }));
  }, 60_000);

  afterAll(async () => {
    for (const host of hosts) {
      if (host.started.child.exitCode === null) await stop(host.started);
      rmSync(host.cwd, { recursive: true, force: true });
      rmSync(path.dirname(host.sessionDir), { recursive: true, force: true });
    }
  });

  test("both started together on an empty database, and it was migrated once", async () => {
    const client = new Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`);
      expect(rows.map((row: { version: number }) => row.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await client.end();
    }
  });

  test("signed up on one, logged in on the other", async () => {
    const [a, b] = hosts.map((h) => h.url) as [string, string];
    expect((await signUp(browser(), a, "traveller")).status).toBe(303);
    const other = browser();
    expect((await logIn(other, b, "traveller")).status).toBe(303);
    expect(await loggedInAs(other, b)).toBe("traveller");
    expect(await loggedInAs(other, a)).toBe("traveller"); // the same session, seen from the first
  });

  test("a password change on one ends the sessions on the other", async () => {
    const [a, b] = hosts.map((h) => h.url) as [string, string];
    const laptop = browser();
    const phone = browser();
    await signUp(laptop, a, "changer");
    await logIn(phone, b, "changer");
    expect(await loggedInAs(phone, b)).toBe("changer");
    const res = await laptop.submit(a, "/account", "/account/password", {
      current: PASSWORD,
      password: "a brand new passphrase",
    });
    expect(res.status).toBe(303);
    expect(await loggedInAs(phone, b)).toBeUndefined();
    expect(await loggedInAs(phone, a)).toBeUndefined();
    expect(await loggedInAs(laptop, b)).toBe("changer");
    expect((await logIn(browser(), b, "changer", "a brand new passphrase")).status).toBe(303);
  });

  test("200 overlapping views of one session, split across both, are each counted once", async () => {
    const urls = hosts.map((h) => h.url);
    const { cookie } = await newSession(urls[0]!);
    expectEveryCountOnce(await concurrentVisits(urls, cookie, 200), 2);
    expect((await getHome(urls[1]!, cookie)).visits).toBe(202);
  });

  test("npm run sessions and npm run users work there too, without the secret", async () => {
    const cli = async (script: string, args: string[]) => {
      const cwd = tempDir("handstamp-cli-");
      try {
        return await startProcess(path.join(ROOT, "src", script), args, { ...env, SESSION_SECRET: "" }, cwd)
          .exited;
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    };
    const sessions = await cli("sessions/cli.ts", ["list"]);
    expect(sessions).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/\d+ live sessions in Redis at /),
    });
    const users = await cli("users/cli.ts", ["list"]);
    expect(users.code).toBe(0);
    expect(users.stdout).toMatch(/^traveller /m);
    expect(users.stdout).toContain(`2 users in postgres://postgres@127.0.0.1:${postgres.port}/`);
  });

  test("stopped, each has written nothing in its working folder or its SESSION_DIR", async () => {
    runs = await Promise.all(hosts.map((h) => stop(h.started)));
    expect(runs.map((run) => run.code)).toEqual([0, 0]);
    for (const host of hosts) {
      expect(readdirSync(host.cwd)).toEqual([]);
      expect(readdirSync(path.dirname(host.sessionDir))).toEqual([]); // SESSION_DIR never made
    }
    // And one of the two ran the migrations, the other found them done.
    const migrated = runs
      .flatMap((run) => run.stdout.split("\n"))
      .filter((line) => line.includes('"database migrated"'));
    expect(migrated).toHaveLength(1);
  });
});
