// The session layer: what happens to a session in a request, from the Cookie header to
// the store and back, in the order it happens (express-session's index.js is the model).
//
// 1. Plain HTTP in production: nothing will be stored, and a form is refused (admission.ts).
// 2. The cookie: parsed once, its HMAC checked once against every secret (the `s:` +
//    cookie-signature format of express-session, so existing cookies stay valid), and the
//    id checked for our exact shape (ids.ts). A cookie that passed is remembered (memo.ts:
//    the last 10,000 used), so its next requests skip the HMAC.
// 3. The lock: one request at a time per session (lock.ts), taken before the record is read.
// 4. The record: loaded, and held open by the store for this request's write (the file
//    store's file: one look-up by name per request); `req.session` and `req.sessionID`
//    exposed. No record: a new session with a new id, stored only if something is put in it.
// 5. The routes run. The log-in check (`checkLogin`, mounted by app.ts right after the
//    body parser) runs before them but after the body: a session revoked while its
//    request's body was still on the way must not finish that request logged in.
// 6. `res.end`: has anything changed? One comparison: the session as JSON now, against as
//    loaded (or last saved). Changed: saved, if admission.ts lets a new session be stored
//    at all. Unchanged but stored: touched (its idle timeout starts again). This happens
//    BEFORE the response goes out: if the save fails, the visitor gets the 503 page, and
//    nothing claims to be saved.
// 7. The headers: `Set-Cookie` written once, by one hook, for a new session, for a cookie
//    signed with an older secret (re-signed with the current one), or for a persistent
//    cookie whose session changed (express-session's rule); with Max-Age when the cookie
//    has a lifetime. A new id is locked before its cookie is sent. A destroyed session's
//    cookie is cleared (log-out).
// 8. The locks are released when the response has finished (or the client left) and the
//    request's save has settled, whichever comes last.
//
// Where the time went (lock wait, load, save; ms) is left on `res.locals.sessionTimings`.
import { performance } from "node:perf_hooks";
import { sign, unsign } from "cookie-signature";
import type { NextFunction, Request, Response } from "express";
import type { SessionData } from "express-session";
import onHeaders from "on-headers";
import type { LoginSessions } from "../auth/loginSessions";
import type { Config } from "../config";
import { Memo } from "../http/memo";
import type { Admission } from "./admission";
import { clearCookieLine, cookieName, readCookie, setCookieLine } from "./cookies";
import { generateSessionId, isSessionId } from "./ids";
import { ttlMs } from "./lifetime";
import type { Release } from "./lock";
import { Session, SessionCookie, type SessionControl } from "./session";
import type { SessionStorage } from "./storage";
import type { HeldRecord } from "./store";

export interface SessionTimings {
  lockWaitMs: number;
  loadMs: number;
  saveMs: number;
}

export interface SessionLayerDeps {
  storage: SessionStorage;
  admission: Admission;
  loginSessions: Pick<LoginSessions, "check">;
  now: () => number;
  /** Where a failure nobody is waiting for goes (a lock's release, a streamed page's save). */
  onError: (err: unknown, msg: string) => void;
}

type RequestSession = Session & Partial<SessionData>;

/** What the layer knows of one request's session. */
interface RequestState {
  /** The id the cookie named, correctly signed and well formed. */
  cookieId?: string;
  /** Signed with an older secret: the cookie is re-issued with the current one. */
  rotate: boolean;
  /** The store holds a record under the current id (loaded, or saved by this request). */
  stored: boolean;
  /** The session as JSON when it was loaded (or made). */
  loaded: string;
  /** ... and when it was last saved: what "changed" is measured against. */
  saved: string;
  /** Written or touched by this request already: no touch at the end. */
  fresh: boolean;
  /** Nothing may be stored for this request (plain HTTP, or admission refused it). */
  dropped: boolean;
  /** Destroyed by the route (log-out): the browser is told to forget its cookie. */
  destroyed: boolean;
  /** The end-of-request save has run (or failed). */
  committed: boolean;
  /** The session as JSON at the end of the request, once the save has run. */
  ended?: string;
  /** The session's Set-Cookie line for this response, or null. */
  decideCookie(): string | null;
  held: Release[];
  /** The record as the store keeps it open for this request's write or touch (the file store's file). */
  record?: HeldRecord;
}

const states = new WeakMap<Request, RequestState>();

/**
 * Whether this request's session was loaded from the store (the cookie named a stored
 * session, and it has not been replaced since), rather than made for this request.
 */
export function hasStoredSession(req: Request): boolean {
  const state = states.get(req);
  return state !== undefined && state.stored && state.cookieId !== undefined && state.cookieId === req.sessionID;
}

/** The session's Set-Cookie line as this response will send it, if it ended now (the inspector shows it). */
export function plannedSessionCookie(req: Request): string | undefined {
  return states.get(req)?.decideCookie() ?? undefined;
}

/** A correctly signed session cookie: its id, and the index of the secret that signed it (0: the current one). */
export interface SignedCookie {
  id: string;
  secretIndex: number;
}

/** The id a session cookie's value names, if it is correctly signed and well formed. */
export function unsignSessionCookie(value: string | undefined, secrets: readonly string[]): SignedCookie | undefined {
  if (!value?.startsWith("s:")) return undefined;
  for (const [secretIndex, secret] of secrets.entries()) {
    const id = unsign(value.slice(2), secret);
    if (id !== false) return isSessionId(id) ? { id, secretIndex } : undefined;
  }
  return undefined;
}

/** The session cookie's value for an id, in express-session's format. */
export function signSessionId(id: string, secret: string): string {
  return `s:${sign(id, secret)}`;
}

/**
 * Runs `listener` once, just before the response's headers go out: Node writes them through
 * writeHead, called by the route or by Node itself at the response's first write. On-headers
 * does this for every call, at a cost on every response; here the usual call (the status
 * alone) runs the listener directly, and only a call that gives headers or a reason goes
 * through on-headers, which sets those headers first so that the listener adds to them.
 */
function beforeHeaders(res: Response, listener: () => void): void {
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadAfter(this: Response, ...args: unknown[]) {
    res.writeHead = writeHead;
    if (args.length > 1) {
      onHeaders(this, listener);
      return (this.writeHead as (...a: unknown[]) => Response)(...args);
    }
    listener();
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as Response["writeHead"];
}

export type SessionLayer = ReturnType<typeof sessionLayer>;

export function sessionLayer(config: Config, deps: SessionLayerDeps) {
  const { storage, admission, now } = deps;
  const { store, locks } = storage;
  const name = cookieName(config, "sid");
  const secure = config.env === "production";
  const lifetime = (session: RequestSession) => ttlMs(config, session, now());
  const signedCookies = new Memo<SignedCookie>();
  const unsignOnce = (value: string) => unsignSessionCookie(value, config.sessionSecrets);

  return {
    /** Steps 1 to 4, and the hooks of steps 6 to 8. */
    async openSession(req: Request, res: Response, next: NextFunction): Promise<void> {
      // Mounted twice (an app inside another): the first one has this request, and the
      // second would wait for the lock the first holds.
      if (states.has(req)) return next();
      // 1. Plain HTTP in production.
      if (admission.refusePlainHttpForm(req, res)) return;
      const timings: SessionTimings = { lockWaitMs: 0, loadMs: 0, saveMs: 0 };
      res.locals.sessionTimings = timings;

      // 2. The cookie.
      const value = readCookie(req, name);
      const signed = value === undefined ? undefined : signedCookies.answer(value, unsignOnce);
      req.cookieSessionId = signed?.id;
      const state: RequestState = {
        cookieId: signed?.id,
        rotate: (signed?.secretIndex ?? 0) > 0,
        stored: false,
        loaded: "",
        saved: "",
        fresh: false,
        dropped: admission.isPlainHttp(req),
        destroyed: false,
        committed: false,
        held: [],
        decideCookie: () => decideCookie(req, state),
      };
      states.set(req, state);

      // 8, registered first so that nothing below can leave a lock behind. The locks go once
      // the answer is out (or the client gone) AND this request's own save has settled: a
      // client that disconnects mid-request (a cancelled tab, a second submit) must not let
      // the next request of its session load what this one is about to overwrite.
      let released = false;
      let answered = false;
      let settled = false;
      const release = () => {
        if (released) return;
        released = true;
        letGo(state);
        for (const unlock of state.held) unlock().catch((err) => deps.onError(err, "could not release a session lock"));
      };
      /** Keeps a lock until release(), or gives it back at once if that has already run. */
      const hold = (unlock: Release) => {
        if (released) unlock().catch((err) => deps.onError(err, "could not release a session lock"));
        else state.held.push(unlock);
      };
      const releaseWhenDone = () => {
        if (answered && settled) release();
      };
      const settle = () => {
        settled = true;
        releaseWhenDone();
      };
      res.once("finish", () => {
        answered = true;
        releaseWhenDone();
      });
      res.once("close", () => {
        answered = true;
        releaseWhenDone();
        // A route that never ends for a client that left must not keep its session locked.
        if (!released) setTimeout(release, config.sessionLockTimeoutMs).unref();
      });

      try {
        // 3. The lock.
        if (signed) {
          const started = performance.now();
          hold(await locks.acquire(signed.id)); // SessionBusy: a 503 with Retry-After
          timings.lockWaitMs = performance.now() - started;
          if (answered) return settle(); // the client left while it waited: nothing to do
        }
        // 4. The record.
        const started = performance.now();
        const record = signed ? await store.get(signed.id, { hold: true }) : undefined;
        timings.loadMs = performance.now() - started;
        state.record = record?.held;
        if (released) letGo(state); // the client left meanwhile
        if (record) expose(req, state, signed!.id, record.data, true, record.json);
        else expose(req, state, generateSessionId(), {}, false);
      } catch (err) {
        settled = true;
        release();
        return next(err);
      }

      // 7. The one Set-Cookie, when the headers go out (after step 6 in the usual order).
      beforeHeaders(res, function writeSessionCookie() {
        const line = state.decideCookie();
        if (!line) return;
        if (req.sessionID !== state.cookieId) {
          const unlock = locks.lockNew(req.sessionID);
          if (unlock) hold(unlock);
        }
        res.append("Set-Cookie", line);
      });

      // 6. Save before answering.
      const end = res.end as (...args: unknown[]) => Response;
      res.end = function endAfterSaving(...args: unknown[]) {
        res.end = end as Response["end"];
        if (res.headersSent) {
          // A route that streamed: its headers are gone, the save can only follow them.
          commit(req, state, timings)
            .catch((err) => deps.onError(err, "could not save the session of a streamed page"))
            .finally(settle);
          return end.apply(res, args);
        }
        commit(req, state, timings).then(
          () => {
            settle();
            end.apply(res, args);
          },
          (err: unknown) => {
            settle();
            // Nothing of this response has gone out: it becomes the error page, and no
            // cookie, header or message of the page that failed goes with it.
            (req as { session?: unknown }).session = undefined;
            res.removeHeader("Set-Cookie");
            res.removeHeader("Location");
            res.locals.currentUser = undefined;
            res.locals.csrfToken = () => "";
            next(err);
          },
        )
          .catch((err: unknown) => deps.onError(err, "could not end a response after its session was saved"));
        return res;
      } as Response["end"];

      next();
    },

    /** Step 5: the log-in check, after the body parser (see above). */
    checkLogin: deps.loginSessions.check,
  };

  /** Gives back the record the store kept open for this request, if it still is. */
  function letGo(state: RequestState): void {
    try {
      state.record?.release();
    } catch (err) {
      deps.onError(err, "could not close a session's record");
    }
    state.record = undefined;
  }

  /**
   * Puts a session on the request: loaded from the store, or new. `json`: the data's JSON as
   * the store holds it, if it has it at hand (the session as JSON is compared with it at the
   * end: equal, the store already holds what the session is).
   */
  function expose(
    req: Request,
    state: RequestState,
    id: string,
    data: Partial<SessionData>,
    stored: boolean,
    json?: string,
  ): void {
    const cookie = new SessionCookie(secure, now, data.cookie as never);
    const session = new Session(id, cookie, data, control(req, state)) as RequestSession;
    req.session = session;
    req.sessionID = id;
    state.stored = stored;
    state.loaded = state.saved = json ?? JSON.stringify(session);
    state.fresh = false;
  }

  /** The session's Set-Cookie line for this response, or null when none is due. */
  function decideCookie(req: Request, state: RequestState): string | null {
    const session = req.session as RequestSession | undefined;
    if (!session) return state.destroyed && state.cookieId ? clearCookieLine(config, name) : null;
    if (state.dropped) return null;
    const newId = req.sessionID !== state.cookieId;
    const persistent = session.cookie.expires !== null;
    // Most requests: a stored session whose cookie the browser already holds as it should.
    if (!newId && !state.rotate && !persistent) return null;
    const json = state.ended ?? JSON.stringify(session);
    const willBeStored = state.stored || (!state.committed && json !== state.saved);
    if (!willBeStored || !(newId || state.rotate || json !== state.loaded)) return null;
    const value = signSessionId(req.sessionID, config.sessionSecrets[0]!);
    return setCookieLine(config, name, value, session.cookie.maxAge, now());
  }

  /** Writes the session now, if it may be stored at all; false if it may not, or is stored no more. */
  async function save(req: Request, state: RequestState, json: string): Promise<boolean> {
    const session = req.session as RequestSession;
    if (state.dropped) return false;
    if (!(await admission.mayStore(req, { stored: state.stored, loggedIn: session.login !== undefined }))) {
      state.dropped = true;
      return false;
    }
    // A session this request loaded is written back only if it is still stored: one ended
    // elsewhere meanwhile (log-out everywhere, a revoke) stays ended, and gets no cookie.
    let written: boolean;
    try {
      written = await store.set(req.sessionID, session, lifetime(session), { json, existing: state.stored, held: state.record });
    } finally {
      letGo(state); // the store has closed it, unless it could not use it
    }
    if (!written) {
      state.stored = false;
      state.dropped = true;
      return false;
    }
    state.stored = true;
    state.saved = json;
    state.fresh = true;
    return true;
  }

  /** Step 6: one comparison, then a save, a touch, or nothing. */
  async function commit(req: Request, state: RequestState, timings: SessionTimings): Promise<void> {
    if (state.committed) return;
    state.committed = true;
    const session = req.session as RequestSession | undefined;
    if (!session || state.dropped) return;
    const started = performance.now();
    const json = (state.ended = JSON.stringify(session));
    if (json !== state.saved) await save(req, state, json);
    else if (state.stored && !state.fresh) {
      try {
        await store.touch(req.sessionID, lifetime(session), state.record);
      } finally {
        letGo(state); // the store has closed it, unless it could not use it
      }
    }
    timings.saveMs = performance.now() - started;
  }

  /** The methods of `req.session` (regenerate, destroy, save, reload, touch), for this request. */
  function control(req: Request, state: RequestState): SessionControl {
    return {
      async regenerate() {
        letGo(state);
        await store.destroy(req.sessionID);
        expose(req, state, generateSessionId(), {}, false);
      },
      async destroy() {
        letGo(state);
        await store.destroy(req.sessionID);
        (req as { session?: unknown }).session = undefined;
        state.stored = false;
        state.destroyed = true;
      },
      async save() {
        try {
          await save(req, state, JSON.stringify(req.session));
        } catch (err) {
          // The route answers with the error page: that answer must not try again, nor
          // send a cookie for a session that was never stored.
          state.dropped = true;
          throw err;
        }
      },
      async reload() {
        letGo(state);
        const record = await store.get(req.sessionID);
        if (!record) throw new Error("the session is no longer stored");
        expose(req, state, req.sessionID, record.data, true, record.json);
      },
      touch() {
        state.fresh = false;
      },
    };
  }
}
