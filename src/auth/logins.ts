// The user ↔ session index in SQLite: one row per logged-in session, so a user can see
// and end their sessions, a password change can end all the others, and a request can
// tell "this login was ended elsewhere" from "this login is live". Rows are written at
// log-in, refreshed at most once a minute per session, and removed at log-out, revoke
// and expiry.
import { randomBytes } from "node:crypto";
import type { Database } from "../db";

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

/** last_seen is rewritten at most this often per session (not one write per request). */
export const SEEN_GRANULARITY_MS = 60_000;
/** Expired rows are kept this long, so a user returning to one is told it expired. */
export const EXPIRED_KEPT_MS = 7 * 86_400_000;

const COLUMNS = `handle, session_id AS sessionId, user_id AS userId, created_at AS createdAt,
  last_seen AS lastSeen, expires_at AS expiresAt, user_agent AS userAgent`;

export type Logins = ReturnType<typeof createLogins>;

/** 128 random bits, URL-safe: 22 characters. */
const newHandle = () => randomBytes(16).toString("base64url");
export const HANDLE_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function createLogins(db: Database) {
  const insert = db.prepare(
    `INSERT OR REPLACE INTO logins (handle, session_id, user_id, created_at, last_seen, expires_at, user_agent)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const bySession = db.prepare<[string], Login>(`SELECT ${COLUMNS} FROM logins WHERE session_id = ?`);
  const byHandle = db.prepare<[string, number], Login>(
    `SELECT ${COLUMNS} FROM logins WHERE handle = ? AND user_id = ?`,
  );
  const live = db.prepare<[number, number], Login>(
    `SELECT ${COLUMNS} FROM logins WHERE user_id = ? AND expires_at > ? ORDER BY last_seen DESC`,
  );
  const touch = db.prepare("UPDATE logins SET last_seen = ?, expires_at = ? WHERE session_id = ?");
  const remove = db.prepare("DELETE FROM logins WHERE session_id = ?");
  const prune = db.prepare("DELETE FROM logins WHERE expires_at < ?");

  return {
    add(entry: Omit<Login, "handle" | "lastSeen">): void {
      prune.run(entry.createdAt - EXPIRED_KEPT_MS);
      const ua = entry.userAgent.slice(0, 300);
      insert.run(
        newHandle(),
        entry.sessionId,
        entry.userId,
        entry.createdAt,
        entry.createdAt,
        entry.expiresAt,
        ua,
      );
    },
    find: (sessionId: string): Login | undefined => bySession.get(sessionId),
    /** One of this user's logins by its handle (undefined if it is someone else's). */
    findForUser: (userId: number, handle: string): Login | undefined => byHandle.get(handle, userId),
    /** The user's live sessions, most recently used first. */
    liveFor: (userId: number, now: number): Login[] => live.all(userId, now),
    /** Records an access; writes only when the last one is old enough. */
    seen(login: Login, now: number, expiresAt: number): void {
      if (now - login.lastSeen >= SEEN_GRANULARITY_MS || expiresAt < login.expiresAt) {
        touch.run(now, expiresAt, login.sessionId);
      }
    },
    remove(sessionId: string): void {
      remove.run(sessionId);
    },
  };
}
