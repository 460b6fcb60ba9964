// What happens to sessions around a log-in: starting one (a new id, the login record,
// remember-me, the index row), ending one (log-out, revoke, a password change), and the
// check every request goes through (expired, past its absolute deadline, ended elsewhere).
import type { NextFunction, Request, Response } from "express";
import type { Config } from "../config";
import { isDatabaseOutage } from "../db";
import { flash } from "../http/flash";
import { Memo } from "../http/memo";
import { isPastAbsoluteDeadline, loginRecord, ttlMs } from "../sessions/lifetime";
import { destroySession, regenerateSession } from "../sessions/promises";
import type { SessionStorage } from "../sessions/storage";
import type { Login, Logins } from "./logins";
import type { User } from "./users";

export const EXPIRED_MESSAGE = "Your session expired. Please log in again.";
/**
 * How long a page view (GET, HEAD) trusts that a log-in this process found live in the
 * database is still live, without asking again (see `check`).
 */
export const LOGIN_RECHECK_MS = 60_000;
/** What belongs to the visitor rather than to the log-in, and so survives it. */
const KEPT_ACROSS_LOGIN = ["visits", "cart"] as const;

export interface LoginSessionsDeps {
  config: Config;
  logins: Logins;
  storage: SessionStorage;
  now: () => number;
  onError: (err: unknown, msg: string) => void;
}

export type LoginSessions = ReturnType<typeof createLoginSessions>;

export function createLoginSessions({ config, logins, storage, now, onError }: LoginSessionsDeps) {
  /** When this process last read each session's row and found its log-in live. */
  const confirmed = new Memo<number>();
  /** A GET or HEAD of a session whose row was read here within LOGIN_RECHECK_MS (and not in the future). */
  const confirmedLately = (req: Request, at: number) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const seen = confirmed.get(req.sessionID);
    return seen !== undefined && seen <= at && at - seen < LOGIN_RECHECK_MS;
  };

  /**
   * Deletes a session's index row, which forms (and page views once a minute) read, then its
   * record, which every request loads. Should the record stay (the store failed), this
   * process's next page view of it reads the row again, and ends it.
   */
  async function endOne(sessionId: string): Promise<void> {
    confirmed.delete(sessionId);
    await logins.remove(sessionId);
    await storage.store.destroy(sessionId).catch((err) => onError(err, "could not delete an ended session"));
  }

  function index(req: Request, createdAt: number): Promise<void> {
    return logins.add({
      sessionId: req.sessionID,
      userId: req.session.user!.id,
      createdAt,
      expiresAt: createdAt + ttlMs(config, req.session, createdAt),
      userAgent: req.get("user-agent") ?? "",
    });
  }

  return {
    /**
     * Logs the visitor in under a new session id: the old record is deleted, so an id
     * planted before log-in (session fixation) is worth nothing after it, and the new
     * session starts with no CSRF token (a new one is made for the next form).
     */
    async start(req: Request, user: User, remember: boolean): Promise<void> {
      const kept = Object.fromEntries(
        KEPT_ACROSS_LOGIN.filter((key) => req.session[key] !== undefined).map((key) => [
          key,
          req.session[key],
        ]),
      );
      const previous = req.session.user !== undefined ? req.sessionID : undefined;
      await regenerateSession(req);
      if (previous) {
        confirmed.delete(previous);
        await logins.remove(previous);
      }
      const at = now();
      Object.assign(req.session, kept);
      req.session.user = { id: user.id, name: user.username };
      req.session.login = loginRecord(config, at, remember);
      // A persistent cookie only when asked; otherwise it ends with the browser.
      req.session.cookie.maxAge = remember ? config.rememberMeMs : undefined;
      await index(req, at);
    },

    /** A new id for a logged-in session, everything else kept (after a password change). */
    async renew(req: Request): Promise<void> {
      const { cookie, ...data } = req.session;
      const maxAge = cookie.maxAge;
      const previous = req.sessionID;
      await regenerateSession(req);
      confirmed.delete(previous);
      await logins.remove(previous);
      Object.assign(req.session, data);
      if (maxAge) req.session.cookie.maxAge = maxAge;
      await index(req, now());
    },

    /** Log-out: the record and its index row are deleted. */
    async end(req: Request): Promise<void> {
      confirmed.delete(req.sessionID);
      await logins.remove(req.sessionID);
      await destroySession(req);
    },

    /** Ends one of the user's other sessions; false if it is not theirs. */
    async revoke(userId: number, handle: string): Promise<boolean> {
      const login = await logins.findForUser(userId, handle);
      if (!login) return false;
      await endOne(login.sessionId);
      return true;
    },

    /** Ends every session of the user but this one; resolves to how many were live. */
    async endOthers(userId: number, keep: string): Promise<number> {
      const others = (await logins.liveFor(userId, 0)).filter((login) => login.sessionId !== keep);
      await Promise.all(others.map((login) => endOne(login.sessionId)));
      const at = now();
      return others.filter((login) => login.expiresAt > at).length;
    },

    liveFor: (userId: number): Promise<Login[]> => logins.liveFor(userId, now()),

    /**
     * Runs on every request, after the session is loaded and the body read (the session
     * layer mounts it: src/sessions/sessionLayer.ts says why there):
     * - past the absolute deadline: the session is ended, the user told to log in again;
     * - the cookie named a logged-in session the store no longer has (idle timeout): told too;
     * - a logged-in session whose index row is gone was ended elsewhere (log-out, revoke,
     *   password change) while this request waited: it does not come back to life;
     * - otherwise the index row records the access (at most once a minute).
     * A GET or HEAD of a session whose row this process read less than LOGIN_RECHECK_MS
     * ago skips the read (a SQLite query, or a round trip to PostgreSQL, on nearly every
     * page). Ending a log-in through the app deletes its record too, and the session layer
     * never writes back a record that is gone, so an ended session is not loaded again; a
     * record that outlives its row (its delete failed, a row deleted outside the app) is
     * ended by the next read, within LOGIN_RECHECK_MS in each process. A request that may
     * change something (a form) always reads the row: its body may have been on the way
     * while the session was ended.
     */
    async check(req: Request, _res: Response, next: NextFunction): Promise<void> {
      const at = now();
      const session = req.session;
      if (session.login) {
        const pastDeadline = isPastAbsoluteDeadline(session, at);
        if (!pastDeadline && confirmedLately(req, at)) return next();
        const login = await logins.find(req.sessionID);
        if (pastDeadline || !login || login.userId !== session.user?.id) {
          const expired = login !== undefined;
          confirmed.delete(req.sessionID);
          await logins.remove(req.sessionID);
          await regenerateSession(req); // deletes the record; an empty session, new id
          if (expired) flash(req, "info", EXPIRED_MESSAGE);
        } else {
          await logins.seen(login, at, at + ttlMs(config, session, at));
          confirmed.set(req.sessionID, at);
        }
      } else if (req.cookieSessionId && req.cookieSessionId !== req.sessionID) {
        // Only to say "your session expired": with the database down, an anonymous page
        // (the counter, the cart) is still served, without the message.
        const gone = await logins.find(req.cookieSessionId).catch((err: unknown) => {
          if (isDatabaseOutage(err)) return undefined;
          throw err;
        });
        if (gone) {
          await logins.remove(req.cookieSessionId);
          flash(req, "info", EXPIRED_MESSAGE);
        }
      }
      next();
    },
  };
}
