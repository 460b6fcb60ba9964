import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "../src/bootstrap";
import { ConfigError, parseConfig, parseDuration } from "../src/config";

const devSecret = () => "dev-secret";

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env, { devSecret });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe("configuration", () => {
  test("works with no variables at all outside production", () => {
    const config = parseConfig({}, { devSecret, cwd: "/srv/app" });
    expect(config).toMatchObject({
      env: "development",
      port: 3000,
      host: "localhost",
      logLevel: "info",
      trustProxy: false,
      sessionSecrets: ["dev-secret"],
      sessionStore: "file",
      sessionDir: "/srv/app/sessions",
      databasePath: "/srv/app/data/handstamp.db",
      sessionIdleTimeoutMs: 30 * 60_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("the development secret is asked for with the data folder", () => {
    const folders: string[] = [];
    parseConfig({ DATABASE_PATH: "db/site.db" }, { cwd: "/x", devSecret: (dir) => (folders.push(dir), "s") });
    expect(folders).toEqual([path.resolve("/x/db")]);
  });

  test("reads every variable", () => {
    const config = parseConfig(
      {
        NODE_ENV: "production",
        PORT: "8080",
        HOST: "0.0.0.0",
        LOG_LEVEL: "warn",
        TRUST_PROXY: "1",
        SESSION_SECRET: `${"n".repeat(32)}, ${"o".repeat(40)}`,
        SESSION_STORE: "memory",
        SESSION_DIR: "/var/lib/handstamp/sessions",
        DATABASE_PATH: "/var/lib/handstamp/users.db",
        SESSION_IDLE_TIMEOUT: "12h",
      },
      {},
    );
    expect(config).toMatchObject({
      env: "production",
      port: 8080,
      host: "0.0.0.0",
      logLevel: "warn",
      trustProxy: 1,
      sessionSecrets: ["n".repeat(32), "o".repeat(40)],
      sessionStore: "memory",
      sessionDir: "/var/lib/handstamp/sessions",
      databasePath: "/var/lib/handstamp/users.db",
      sessionIdleTimeoutMs: 12 * 3_600_000,
    });
  });

  test.each([
    ["off", false],
    ["true", true],
    ["2", 2],
    ["loopback", "loopback"],
  ])("TRUST_PROXY=%s means %j", (value, expected) => {
    expect(parseConfig({ TRUST_PROXY: value }, { devSecret }).trustProxy).toBe(expected);
  });

  test.each(["on", "true", "yes"])(
    "TRUST_PROXY=%s is refused in production, with what to use instead",
    (value) => {
      const problems = problemsOf({
        NODE_ENV: "production",
        SESSION_SECRET: "s".repeat(32),
        TRUST_PROXY: value,
      });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^TRUST_PROXY: .*any client can choose its address.*loopback.*hop count/);
    },
  );

  test.each(["loopback", "1", "10.0.0.0/8"])("TRUST_PROXY=%s is accepted in production", (value) => {
    const config = parseConfig({
      NODE_ENV: "production",
      SESSION_SECRET: "s".repeat(32),
      TRUST_PROXY: value,
    });
    expect(config.trustProxy).toBe(value === "1" ? 1 : value);
  });

  test.each([
    ["PORT", "eighty", "PORT: must be a port number from 0 to 65535"],
    ["PORT", "70000", "PORT: must be a port number from 0 to 65535"],
    ["NODE_ENV", "staging", "NODE_ENV: must be development, production or test"],
    ["LOG_LEVEL", "loud", "LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent"],
    ["SESSION_STORE", "mongo", "SESSION_STORE: must be file, memory or redis"],
    [
      "SESSION_IDLE_TIMEOUT",
      "30 minutes",
      "SESSION_IDLE_TIMEOUT: must be a positive whole number followed by s, m, h or d (for example 30m)",
    ],
    [
      "SESSION_IDLE_TIMEOUT",
      "0m",
      "SESSION_IDLE_TIMEOUT: must be a positive whole number followed by s, m, h or d (for example 30m)",
    ],
  ])("a bad %s (%j) is named with what it accepts", (name, value, problem) => {
    expect(problemsOf({ [name]: value })).toEqual([problem]);
  });

  test("every bad variable is named at once, on one line", () => {
    let message = "";
    try {
      parseConfig({ PORT: "x", SESSION_STORE: "y", NODE_ENV: "production" }, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid configuration: /);
    expect(message).not.toContain("\n");
    expect(message).toContain("PORT:");
    expect(message).toContain("SESSION_STORE:");
    expect(message).toContain("SESSION_SECRET:");
  });

  test("production needs a secret", () => {
    expect(problemsOf({ NODE_ENV: "production" })).toEqual([
      "SESSION_SECRET: is required in production (generate one with `npm run secret`)",
    ]);
  });

  test("production refuses a secret shorter than 32 characters, even an old one", () => {
    expect(problemsOf({ NODE_ENV: "production", SESSION_SECRET: `${"a".repeat(32)},short` })).toEqual([
      "SESSION_SECRET: every secret must be at least 32 characters in production (generate one with `npm run secret`)",
    ]);
  });

  test("blank variables count as unset", () => {
    expect(parseConfig({ PORT: "", SESSION_SECRET: " " }, { devSecret }).port).toBe(3000);
  });

  test.each([
    ["90s", 90_000],
    ["30m", 1_800_000],
    ["12h", 43_200_000],
    ["7d", 604_800_000],
    ["30", undefined],
    ["m", undefined],
    ["-5m", undefined],
    ["1.5h", undefined],
  ])("duration %j is %j ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe("SESSION_CREATE_LIMIT", () => {
  test("allows 60 new sessions a minute per address unless set", () => {
    expect(parseConfig({}, { devSecret }).sessionCreateLimit).toEqual({ points: 60, windowMs: 60_000 });
  });

  test.each([
    ["100/5m", { points: 100, windowMs: 300_000 }],
    ["off", undefined],
    ["OFF", undefined],
  ])("%s is read like AUTH_RATE_LIMIT", (value, expected) => {
    expect(parseConfig({ SESSION_CREATE_LIMIT: value }, { devSecret }).sessionCreateLimit).toEqual(expected);
  });

  test.each(["60", "0/1m", "60/soon", "-1/1m"])("%s is refused with how to fix it", (value) => {
    expect(problemsOf({ SESSION_CREATE_LIMIT: value })).toEqual([
      "SESSION_CREATE_LIMIT: must be a count per duration (for example 30/15m) or off",
    ]);
  });
});

describe("WEB_CONCURRENCY", () => {
  test("is one server process unless set", () => {
    expect(parseConfig({}, { devSecret }).webConcurrency).toBe(1);
  });

  test.each([
    ["1", 1],
    ["2", 2],
    [" 4 ", 4],
  ])("%j runs %j processes", (value, workers) => {
    expect(parseConfig({ WEB_CONCURRENCY: value }, { devSecret }).webConcurrency).toBe(workers);
  });

  test.each(["auto", "AUTO"])("%s runs one process per core", (value) => {
    expect(parseConfig({ WEB_CONCURRENCY: value }, { devSecret, cores: () => 6 }).webConcurrency).toBe(6);
  });

  test.each(["0", "-1", "lots", "1.5", "2 workers", "257"])("%j is refused with what it accepts", (value) => {
    expect(problemsOf({ WEB_CONCURRENCY: value })).toEqual([
      "WEB_CONCURRENCY: must be a whole number of server processes from 1 to 256, or auto (one per core)",
    ]);
  });

  test("more than one process with the memory store is refused, with what to use instead", () => {
    expect(problemsOf({ WEB_CONCURRENCY: "2", SESSION_STORE: "memory" })).toEqual([
      "WEB_CONCURRENCY: 2 server processes cannot share the memory store (each would see only its own sessions): use SESSION_STORE=file or redis, or WEB_CONCURRENCY=1",
    ]);
  });

  test.each([
    ["file", "2"],
    ["redis", "2"],
    ["memory", "1"],
  ])("the %s store with WEB_CONCURRENCY=%s is accepted", (store, workers) => {
    expect(problemsOf({ WEB_CONCURRENCY: workers, SESSION_STORE: store })).toEqual([]);
  });

  test("auto on a one-core machine keeps the memory store usable", () => {
    const config = parseConfig(
      { WEB_CONCURRENCY: "auto", SESSION_STORE: "memory" },
      { devSecret, cores: () => 1 },
    );
    expect(config.webConcurrency).toBe(1);
  });
});

describe("a command that signs nothing (needsSecret: false)", () => {
  test("starts in production without SESSION_SECRET, and creates no development secret", () => {
    const created: string[] = [];
    const config = parseConfig(
      { NODE_ENV: "production" },
      { needsSecret: false, devSecret: (dir) => (created.push(dir), "s") },
    );
    expect(config.sessionSecrets).toEqual([]);
    expect(created).toEqual([]);
  });

  test("still names every other bad variable", () => {
    expect(() => parseConfig({ NODE_ENV: "production", PORT: "x" }, { needsSecret: false })).toThrow(
      /^invalid configuration: PORT: must be a port number/,
    );
  });
});

describe("loadConfig, the bootstrap of the server and of npm run sessions", () => {
  test("the server's needs a secret in production; the sessions command's does not", () => {
    expect(() => loadConfig({ NODE_ENV: "production" }, { needsSecret: true })).toThrow(
      "SESSION_SECRET: is required in production",
    );
    expect(loadConfig({ NODE_ENV: "production" }, { needsSecret: false }).env).toBe("production");
  });

  test("reads .env from the working folder, variables already set winning", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "handstamp-env-"));
    writeFileSync(path.join(dir, ".env"), "PORT=4100\nHOST=0.0.0.0\n");
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const config = loadConfig({ HOST: "127.0.0.1" }, { needsSecret: false });
      expect(config).toMatchObject({ port: 4100, host: "127.0.0.1" });
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the database settings", () => {
  test("SQLite is the default; DATABASE_URL chooses PostgreSQL, with 10 connections unless told", () => {
    expect(parseConfig({}, { devSecret })).toMatchObject({ databaseUrl: undefined, databasePoolSize: 10 });
    const url = "postgres://handstamp:secret@db.internal:5432/handstamp";
    expect(parseConfig({ DATABASE_URL: url, DATABASE_POOL_SIZE: "4" }, { devSecret })).toMatchObject({
      databaseUrl: url,
      databasePoolSize: 4,
    });
    expect(
      parseConfig({ DATABASE_URL: "postgresql:///handstamp?host=/run/postgresql" }, { devSecret })
        .databaseUrl,
    ).toBe("postgresql:///handstamp?host=/run/postgresql");
  });

  test.each([
    ["a Redis URL", "redis://127.0.0.1:6379"],
    ["a file path", "./data/handstamp.db"],
    ["a URL without a host", "postgres:///handstamp"],
    ["not a URL at all", "postgres://user:pa55word@"],
  ])("DATABASE_URL refuses %s in one line that never shows the value", (_case, value) => {
    const problems = problemsOf({ DATABASE_URL: value });
    expect(problems).toEqual([
      "DATABASE_URL: must be a postgres:// or postgresql:// URL (for example postgres://handstamp:PASSWORD@db.internal:5432/handstamp)",
    ]);
    expect(problems.join("")).not.toContain("pa55word");
  });

  test.each(["0", "101", "ten", "2.5", "-3"])(
    "DATABASE_POOL_SIZE=%s is refused with what it accepts",
    (value) => {
      expect(problemsOf({ DATABASE_POOL_SIZE: value })).toEqual([
        "DATABASE_POOL_SIZE: must be a whole number of connections from 1 to 100",
      ]);
    },
  );

  test("with Redis and PostgreSQL nothing is kept on disk: a secret must be given, not made", () => {
    const made: string[] = [];
    const env = { SESSION_STORE: "redis", DATABASE_URL: "postgres://h@db.internal/h" };
    let problems: string[] = [];
    try {
      parseConfig(env, { devSecret: (dir) => (made.push(dir), "dev") });
    } catch (err) {
      problems = [...(err as ConfigError).problems];
    }
    expect(problems).toEqual([
      expect.stringMatching(/^SESSION_SECRET: is required with SESSION_STORE=redis and DATABASE_URL/),
    ]);
    expect(made).toEqual([]); // no development secret file was asked for
    expect(parseConfig({ ...env, SESSION_SECRET: "shared" }, { devSecret }).sessionSecrets).toEqual([
      "shared",
    ]);
  });

  test("the command-line tools need no secret, even in production", () => {
    const config = parseConfig(
      { NODE_ENV: "production", SESSION_STORE: "redis", DATABASE_URL: "postgres://h@db/h" },
      { needsSecret: false },
    );
    expect(config.databaseUrl).toBe("postgres://h@db/h");
  });
});
