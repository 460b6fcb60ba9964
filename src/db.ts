// The SQLite database (better-sqlite3): opened once per app, created and migrated on
// first use. Migrations are numbered by SQLite's user_version.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import path from "node:path";
import type BetterSqlite3Type from "better-sqlite3";

export type Database = BetterSqlite3Type.Database;

/**
 * better-sqlite3 13.x on Node 22 and later, 12.x on Node 20: no one version runs on all three
 * Node versions we test. 12.x aborts Node 24 (24.19+) whenever the garbage collector
 * frees one of its statements (`RemoveEnvironmentCleanupHook: Assertion failed`, seen in
 * CI); 13.x (Node-API, the package `better-sqlite3-13` here) needs Node 22 and segfaults
 * on Node 20. Both have the same API. The test suite runs on 20, 22 and 24 (.ci/run).
 */
export const BetterSqlite3: typeof BetterSqlite3Type =
  Number(process.versions.node.split(".")[0]) >= 22
    ? (require("better-sqlite3-13") as typeof BetterSqlite3Type)
    : (require("better-sqlite3") as typeof BetterSqlite3Type);

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id            INTEGER PRIMARY KEY,
     username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
     password_hash TEXT NOT NULL,
     created_at    INTEGER NOT NULL
   )`,
  // The user ↔ session index (src/auth/logins.ts): one row per logged-in session.
  `CREATE TABLE logins (
     id          INTEGER PRIMARY KEY,
     session_id  TEXT NOT NULL UNIQUE,
     user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at  INTEGER NOT NULL,
     last_seen   INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     user_agent  TEXT NOT NULL DEFAULT ''
   );
   CREATE INDEX logins_by_user ON logins (user_id, expires_at);
   CREATE INDEX logins_by_expiry ON logins (expires_at)`,
  // Revoke handles: random and opaque (src/auth/logins.ts), not the row id, which counted
  // every log-in the site has had. Rows from before get one too: 22 hex characters, which
  // the handle pattern accepts (88 random bits, for rows that expire within days).
  `ALTER TABLE logins ADD COLUMN handle TEXT;
   UPDATE logins SET handle = lower(hex(randomblob(11)));
   CREATE UNIQUE INDEX logins_by_handle ON logins (handle)`,
];

export function openDatabase(file: string): Database {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  keepPrivate(file);
  const db = new BetterSqlite3(file);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}

/**
 * The database holds password hashes and session ids: it is created 0600 here, before
 * SQLite opens it, because SQLite gives the -wal and -shm files the database's own mode.
 * Files left readable by others (as earlier versions created them) are closed too.
 */
function keepPrivate(file: string): void {
  closeSync(openSync(file, "a", 0o600));
  for (const each of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (statSync(each).mode & 0o077) chmodSync(each, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

/**
 * Runs the migrations not applied yet. BEGIN IMMEDIATE takes the write lock before the
 * version is read, so two processes starting on a new file cannot both migrate it.
 */
function migrate(db: Database): void {
  db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    for (let version = current; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version]!);
    if (current < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
