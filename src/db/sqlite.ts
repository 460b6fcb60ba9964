// The SQLite engine (better-sqlite3), the embedded default: one file, opened once per app,
// created and migrated on first use. Migrations (src/db/migrations.ts) are numbered by
// SQLite's user_version.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import path from "node:path";
import type BetterSqlite3Type from "better-sqlite3";
import { MIGRATIONS } from "./migrations";

export type SqliteFile = BetterSqlite3Type.Database;

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

export function openDatabase(file: string): SqliteFile {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  keepPrivate(file);
  const db = new BetterSqlite3(file, { timeout: BUSY_TIMEOUT_MS });
  useWal(db);
  db.pragma("foreign_keys = ON");
  migrate(db);
  return db;
}

/** How long a statement waits for another process's lock before it fails "database is locked". */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Switches a new database to WAL (an old one already is: the mode is kept in the file).
 * Two processes starting at once on a new file may both try, and SQLite then fails one of
 * them at once, "database is locked", without waiting: each holds the read lock the other
 * must see go (waiting could never end). That one tries again, for as long as any
 * statement waits for a lock; by then the other has switched the file, and its switch is
 * a no-op.
 */
function useWal(db: SqliteFile): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY" || Date.now() > deadline) throw err;
      Atomics.wait(PAUSE, 0, 0, 5); // a synchronous pause: openDatabase is synchronous
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

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
function migrate(db: SqliteFile): void {
  db.transaction(() => {
    const current = db.pragma("user_version", { simple: true }) as number;
    for (let version = current; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version]!.sqlite);
    if (current < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
