import { chmodSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { createLogins, HANDLE_PATTERN } from "../src/auth/logins";
import { BetterSqlite3, connectDatabase, MIGRATIONS, openDatabase } from "../src/db";
import { tempDir, testConfig } from "./helpers";
import { ROOT } from "./processes";

describe("the database", () => {
  test("is created with its tables on first open, and reopening migrates nothing twice", () => {
    const file = path.join(tempDir(), "data", "handstamp.db");
    const first = openDatabase(file);
    const second = openDatabase(file); // a second process starting on the same file
    expect(second.pragma("user_version", { simple: true })).toBeGreaterThan(0);
    expect(second.pragma("journal_mode", { simple: true })).toBe("wal");
    first.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('a', 'h', 0)").run();
    expect(second.prepare("SELECT count(*) AS n FROM users").get()).toEqual({ n: 1 });
    first.close();
    second.close();
  });

  test("processes starting at once on a new file all open it (none fails 'database is locked')", async () => {
    // Threads stand in for processes (SQLite's locks are the same): four open a new file
    // at the same moment, round after round. Switching a new file to WAL raced: one in
    // about forty failed at once, without waiting (4 to 10 of 240 in five runs).
    const threads = 4;
    const rounds = 60;
    const dir = tempDir();
    const arrived = new Int32Array(new SharedArrayBuffer(4));
    const code = `
      require("tsx/cjs/api").register();
      const { openDatabase } = require(${JSON.stringify(path.join(ROOT, "src", "db", "sqlite.ts"))});
      const { parentPort, workerData: { arrived, dir, threads, rounds } } = require("node:worker_threads");
      const failures = [];
      for (let round = 0; round < rounds; round++) {
        Atomics.add(arrived, 0, 1); // all threads open round's file together
        while (Atomics.load(arrived, 0) < threads * (round + 1)) Atomics.wait(arrived, 0, Atomics.load(arrived, 0), 1);
        try {
          openDatabase(dir + "/" + round + "/handstamp.db").close();
        } catch (err) {
          failures.push(err.message);
        }
      }
      parentPort.postMessage(failures);
    `;
    const failures = await Promise.all(
      Array.from({ length: threads }, () => {
        const worker = new Worker(code, { eval: true, workerData: { arrived, dir, threads, rounds } });
        return new Promise<string[]>((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        });
      }),
    );
    expect(failures.flat()).toEqual([]);
  }, 60_000);

  test("logins from before revoke handles get handles that the revoke route accepts", async () => {
    const file = path.join(tempDir(), "handstamp.db");
    const old = new BetterSqlite3(file); // a database at version 2, with two live logins
    for (const migration of MIGRATIONS.slice(0, 2)) old.exec(migration.sqlite);
    old.pragma("user_version = 2");
    old.prepare("INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'a', 'h', 0)").run();
    const row = old.prepare(
      "INSERT INTO logins (session_id, user_id, created_at, last_seen, expires_at) VALUES (?, 1, 0, 0, ?)",
    );
    row.run("s1", Date.now() + 60_000);
    row.run("s2", Date.now() + 60_000);
    old.close();
    const db = connectDatabase(testConfig(tempDir(), { DATABASE_PATH: file }), { onError: () => undefined });
    const logins = createLogins(db);
    const handles = (await logins.liveFor(1, Date.now())).map((login) => login.handle);
    expect(handles).toHaveLength(2);
    for (const handle of handles) {
      expect(handle).toMatch(HANDLE_PATTERN);
      expect(await logins.findForUser(1, handle)).toBeDefined();
    }
    expect(new Set(handles).size).toBe(2);
    await db.close();
  });

  test("its folder is created 0700, and the database and its -wal and -shm files 0600", () => {
    const file = path.join(tempDir(), "data", "handstamp.db");
    const db = openDatabase(file);
    db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('a', 'h', 0)").run();
    const mode = (name: string) => statSync(name).mode & 0o777;
    expect(mode(path.dirname(file))).toBe(0o700);
    expect([mode(file), mode(`${file}-wal`), mode(`${file}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    db.close();
  });

  test("a database left readable by others (as earlier versions made it) is closed to 0600 when opened", () => {
    const file = path.join(tempDir(), "handstamp.db");
    openDatabase(file).close();
    chmodSync(file, 0o644);
    writeFileSync(`${file}-wal`, "");
    chmodSync(`${file}-wal`, 0o644);
    const db = openDatabase(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
    db.close();
  });

  test("names are unique whatever their case", () => {
    const db = openDatabase(path.join(tempDir(), "u.db"));
    db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('Ada', 'h', 0)").run();
    expect(() =>
      db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('ada', 'h', 0)").run(),
    ).toThrow(/UNIQUE/);
    db.close();
  });
});
