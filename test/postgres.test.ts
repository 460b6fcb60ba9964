// The PostgreSQL engine itself: migrations under several instances at once, and the rules
// the SQLite schema has (test/db.test.ts) holding here too.
import { createLogins, HANDLE_PATTERN } from "../src/auth/logins";
import { createUsers } from "../src/auth/users";
import { connectDatabase, MIGRATIONS, type Database } from "../src/db";
import { MIGRATIONS_TABLE } from "../src/db/postgres";
import { rmSync } from "node:fs";
import { tempDir, TEST_SECRET, testConfig } from "./helpers";
import { usePostgres } from "./postgresServer";
import { startServer, stop } from "./processes";
import { freePort } from "./redisServer";

const postgres = usePostgres();

function connect(url: string, onMigrated?: () => void): Database {
  return connectDatabase(testConfig(tempDir(), { DATABASE_URL: url }), {
    onError: () => undefined,
    onMigrated,
  });
}

describe("the PostgreSQL database", () => {
  test("eight instances starting at once on an empty database: one migrates, none fails", async () => {
    const url = postgres.newDatabaseUrl();
    let migrations = 0;
    const instances = Array.from({ length: 8 }, () => connect(url, () => migrations++));
    try {
      await Promise.all(instances.map((db) => db.ready()));
      expect(migrations).toBe(1);
      const versions = await instances[0]!.query<{ version: number }>(
        `SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`,
      );
      expect(versions.map((row) => row.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    } finally {
      await Promise.all(instances.map((db) => db.close()));
    }
  });

  test("names are unique whatever their case, and found whatever their case", async () => {
    const db = connect(postgres.newDatabaseUrl());
    try {
      const users = createUsers(db);
      const ada = await users.create("Ada", "hash");
      expect(ada).toMatchObject({ username: "Ada" });
      expect(await users.create("ada", "hash")).toBeUndefined();
      expect(await users.findByName("ADA")).toMatchObject({
        id: ada!.id,
        username: "Ada",
        passwordHash: "hash",
      });
      expect(await users.count()).toBe(1);
    } finally {
      await db.close();
    }
  });

  test("log-ins keep their times as numbers, and a user's deletion takes their rows with it", async () => {
    const db = connect(postgres.newDatabaseUrl());
    try {
      const users = createUsers(db);
      const logins = createLogins(db);
      const user = (await users.create("grace", "hash"))!;
      const at = Date.now();
      await logins.add({
        sessionId: "s1",
        userId: user.id,
        createdAt: at,
        expiresAt: at + 60_000,
        userAgent: "",
      });
      const [login] = await logins.liveFor(user.id, at);
      expect(login).toMatchObject({ sessionId: "s1", createdAt: at, lastSeen: at, expiresAt: at + 60_000 });
      expect(login!.handle).toMatch(HANDLE_PATTERN);
      expect(await users.remove(user.id)).toBe(true);
      expect(await logins.find("s1")).toBeUndefined();
    } finally {
      await db.close();
    }
  });
});

test("a server whose PostgreSQL is not up yet starts anyway, says so with the password masked, and reports it", async () => {
  const cwd = tempDir();
  const port = await freePort(); // nothing listens there
  const url = `postgres://handstamp:pa55word@127.0.0.1:${port}/handstamp`;
  const server = startServer({ DATABASE_URL: url, SESSION_SECRET: TEST_SECRET }, cwd);
  try {
    const base = await server.listening;
    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(15_000) });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      store: "ok",
      database: "unavailable",
      databaseEngine: "postgres",
    });
    const run = await stop(server);
    expect(run.stderr).toContain(
      `the database at postgres://handstamp:***@127.0.0.1:${port}/handstamp is not reachable yet`,
    );
    expect(run.stdout + run.stderr).not.toContain("pa55word");
  } finally {
    server.child.kill("SIGKILL");
    rmSync(cwd, { recursive: true, force: true });
  }
});
