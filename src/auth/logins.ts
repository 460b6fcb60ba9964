// The user ↔ session index: one row per logged-in session, so a user can see and end their
// sessions, a password change can end all the others, and a request can tell "this login
// was ended elsewhere" from "this login is live". Rows are written at log-in, refreshed at
// most once a minute per session, and removed at log-out, revoke and expiry. One async
// interface, one implementation per engine (src/db).
import { randomBytes } from "node:crypto";
import type { Database, PostgresDatabase, SqliteDatabase } from "../db";

export interface Login {
  /**
   * What pages and forms use to name a login, never the session id itself: random, so it
   * tells nothing about other logins (a row id would count them).
   */
  handle: string;
  sessionId: string;
  userId: number;
  createdAt: number;
  lastSeen: number;
  expiresAt: number;
  userAgent: string;
}

export type NewLogin = Omit<Login, "handle" | "lastSeen">;

export interface Logins {
  add(entry: NewLogin): Promise<void>;
  find(sessionId: string): Promise<Login | undefined>;
  /** One of this user's logins by its handle (undefined if it is someone else's). */
  findForUser(userId: number, handle: string): Promise<Login | undefined>;
  /** The user's live sessions, most recently used first. */
  liveFor(userId: number, now: number): Promise<Login[]>;
  /** Records an access; writes only when the last one is old enough. */
  seen(login: Login, now: number, expiresAt: number): Promise<void>;
  remove(sessionId: string): Promise<void>;
}

/** last_seen is rewritten at most this often per session (not one write per request). */
export const SEEN_GRANULARITY_MS = 60_000;
/** Expired rows are kept this long, so a user returning to one is told it expired. */
export const EXPIRED_KEPT_MS = 7 * 86_400_000;

const COLUMNS = `handle, session_id AS "sessionId", user_id AS "userId", created_at AS "createdAt",
  last_seen AS "lastSeen", expires_at AS "expiresAt", user_agent AS "userAgent"`;

/** 128 random bits, URL-safe: 22 characters. */
const newHandle = () => randomBytes(16).toString("base64url");
export const HANDLE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

const needsTouch = (login: Login, now: number, expiresAt: number) =>
  now - login.lastSeen >= SEEN_GRANULARITY_MS || expiresAt < login.expiresAt;

/** The row's values in column order: handle, session, user, created, seen, expires, agent. */
const rowOf = (entry: NewLogin) => [
  newHandle(),
  entry.sessionId,
  entry.userId,
  entry.createdAt,
  entry.createdAt,
  entry.expiresAt,
  entry.userAgent.slice(0, 300),
];

export function createLogins(db: Database): Logins {
  return db.engine === "postgres" ? postgresLogins(db) : sqliteLogins(db);
}

function sqliteLogins({ file }: SqliteDatabase): Logins {
  const insert = file.prepare(
    `INSERT OR REPLACE INTO logins (handle, session_id, user_id, created_at, last_seen, expires_at, user_agent)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const bySession = file.prepare<[string], Login>(`SELECT ${COLUMNS} FROM logins WHERE session_id = ?`);
  const byHandle = file.prepare<[string, number], Login>(
    `SELECT ${COLUMNS} FROM logins WHERE handle = ? AND user_id = ?`,
  );
  const live = file.prepare<[number, number], Login>(
    `SELECT ${COLUMNS} FROM logins WHERE user_id = ? AND expires_at > ? ORDER BY last_seen DESC`,
  );
  const touch = file.prepare("UPDATE logins SET last_seen = ?, expires_at = ? WHERE session_id = ?");
  const remove = file.prepare("DELETE FROM logins WHERE session_id = ?");
  const prune = file.prepare("DELETE FROM logins WHERE expires_at < ?");

  return {
    async add(entry) {
      prune.run(entry.createdAt - EXPIRED_KEPT_MS);
      insert.run(...rowOf(entry));
    },
    find: async (sessionId) => bySession.get(sessionId),
    findForUser: async (userId, handle) => byHandle.get(handle, userId),
    liveFor: async (userId, now) => live.all(userId, now),
    async seen(login, now, expiresAt) {
      if (needsTouch(login, now, expiresAt)) touch.run(now, expiresAt, login.sessionId);
    },
    async remove(sessionId) {
      remove.run(sessionId);
    },
  };
}

function postgresLogins({ postgres }: PostgresDatabase): Logins {
  const { sql } = postgres;
  return {
    async add(entry) {
      await sql("DELETE FROM logins WHERE expires_at < $1", [entry.createdAt - EXPIRED_KEPT_MS]);
      await sql(
        `INSERT INTO logins (handle, session_id, user_id, created_at, last_seen, expires_at, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (session_id) DO UPDATE SET handle = EXCLUDED.handle, user_id = EXCLUDED.user_id,
           created_at = EXCLUDED.created_at, last_seen = EXCLUDED.last_seen,
           expires_at = EXCLUDED.expires_at, user_agent = EXCLUDED.user_agent`,
        rowOf(entry),
      );
    },
    find: async (sessionId) =>
      (await sql<Login>(`SELECT ${COLUMNS} FROM logins WHERE session_id = $1`, [sessionId]))[0],
    findForUser: async (userId, handle) =>
      (
        await sql<Login>(`SELECT ${COLUMNS} FROM logins WHERE handle = $1 AND user_id = $2`, [handle, userId])
      )[0],
    liveFor: (userId, now) =>
      sql<Login>(
        `SELECT ${COLUMNS} FROM logins WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen DESC`,
        [userId, now],
      ),
    async seen(login, now, expiresAt) {
      if (needsTouch(login, now, expiresAt)) {
        await sql("UPDATE logins SET last_seen = $1, expires_at = $2 WHERE session_id = $3", [
          now,
          expiresAt,
          login.sessionId,
        ]);
      }
    },
    async remove(sessionId) {
      await sql("DELETE FROM logins WHERE session_id = $1", [sessionId]);
    },
  };
}
