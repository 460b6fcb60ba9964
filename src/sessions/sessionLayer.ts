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

/** What the module's helpers (CSRF, the inspector) may ask of one request's session. */
interface RequestState {
  /** The id the cookie named, correctly signed and well formed. */
  readonly cookieId?: string;
  /** The store holds a record under the current id (loaded, or saved by this request). */
  readonly stored: boolean;
  /** The session's Set-Cookie line for this response, or null. */
  decideCookie(): string | null;
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

type Write = (...args: unknown[]) => Response;

/** Where the layer keeps a request's state on its response, for the response's hooks below. */
const STATE = Symbol("handstamp session state");
type StatefulResponse = Response & { [STATE]: SessionInRequest };
const stateOf = (res: Response) => (res as StatefulResponse)[STATE];

/** A response's "close": it has finished, or its client has left (Node emits both as "close"). */
function onClose(this: Response): void {
  stateOf(this).closed();
}

/**
 * Step 7's hook, in place of the response's writeHead: Node writes the headers through it,
 * called by the route or by Node itself at the response's first write. On-headers does this
 * for every call, at a cost on every response; here the usual call (the status alone) adds
 * the cookie directly, and only a call that gives headers or a reason goes through
 * on-headers, which sets those headers first so that the cookie adds to them.
 */
function writeHeadAfterCookie(this: Response, ...args: unknown[]): Response {
  const state = stateOf(this);
  this.writeHead = state.writeHead as Response["writeHead"];
  if (args.length > 1) {
    onHeaders(this, () => state.writeCookie());
    return (this.writeHead as Write)(...args);
  }
  state.writeCookie();
  return state.writeHead.apply(this, args);
}

/** Step 6's hook, in place of the response's end: the session is saved first. */
function endAfterSaving(this: Response, ...args: unknown[]): Response {
  const state = stateOf(this);
  this.end = state.end as Response["end"];
  return state.endAfterSaving(args);
}

/** What a session layer's request state needs of the layer. */
interface LayerParts {
  config: Config;
  deps: SessionLayerDeps;
  name: string;
  secure: boolean;
  /** Where a lock that could not be given back is reported. */
  lockError: (err: unknown) => void;
  /** ... and a response that could not be ended after its save. */
  endError: (err: unknown) => void;
}

/**
 * One request's session: what the layer knows of it (the flags of steps 6 to 8), and the
 * methods `req.session` calls (regenerate, destroy, save, reload, touch: SessionControl).
 */
class SessionInRequest implements RequestState, SessionControl {
  /** Signed with an older secret: the cookie is re-issued with the current one. */
  readonly rotate: boolean;
  stored = false;
  /** The session as JSON when it was loaded (or made). */
  loaded = "";
  /** ... and when it was last saved: what "changed" is measured against. */
  saved = "";
  /** Written or touched by this request already: no touch at the end. */
  fresh = false;
  /** Nothing may be stored for this request (plain HTTP, or admission refused it). */
  dropped: boolean;
  /** Destroyed by the route (log-out): the browser is told to forget its cookie. */
  destroyed = false;
  /** The end-of-request save has run (or failed). */
  committed = false;
  /** The session as JSON at the end of the request, once the save has run. */
  ended?: string;
  /** The locks this request holds, given back by release(). */
  readonly held: Release[] = [];
  /** The record as the store keeps it open for this request's write or touch (the file store's file). */
  record?: HeldRecord;
  /** Step 8: the locks are given back (once) when the answer is out AND this request's save has settled. */
  released = false;
  /** The response has finished, or its client has left. */
  answered = false;
  /** This request's save has settled (or there was none to make). */
  settled = false;
  /** Where the time went: left on `res.locals.sessionTimings` for the request log. */
  readonly timings: SessionTimings = { lockWaitMs: 0, loadMs: 0, saveMs: 0 };
  /** The response's own writeHead and end, which the layer's hooks call once they are done. */
  writeHead!: Write;
  end!: Write;

  constructor(
    private readonly layer: LayerParts,
    readonly req: Request,
    readonly res: Response,
    private readonly next: NextFunction,
    /** The id the cookie named, correctly signed and well formed. */
    readonly cookieId: string | undefined,
    secretIndex: number,
  ) {
    this.rotate = secretIndex > 0;
    this.dropped = layer.deps.admission.isPlainHttp(req);
  }

  private get session(): RequestSession | undefined {
    return this.req.session as RequestSession | undefined;
  }

  private lifetime(session: RequestSession): number {
    return ttlMs(this.layer.config, session, this.layer.deps.now());
  }

  /** Gives the locks back and lets go of the record, once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.letGo();
    for (const unlock of this.held) unlock().catch(this.layer.lockError);
  }

  /** Keeps a lock until release(), or gives it back at once if that has already run. */
  hold(unlock: Release): void {
    if (this.released) unlock().catch(this.layer.lockError);
    else this.held.push(unlock);
  }

  /** This request's save has settled (or there was none to make). */
  settle(): void {
    this.settled = true;
    if (this.answered) this.release();
  }

  /** The response has finished, or the client has left. */
  closed(): void {
    this.answered = true;
    if (this.settled) this.release();
    // A route that never ends for a client that left must not keep its session locked.
    else if (!this.released) setTimeout(() => this.release(), this.layer.config.sessionLockTimeoutMs).unref();
  }

  /** Gives back the record the store kept open for this request, if it still is. */
  letGo(): void {
    try {
      this.record?.release();
    } catch (err) {
      this.layer.deps.onError(err, "could not close a session's record");
    }
    this.record = undefined;
  }

  /**
   * Puts a session on the request: loaded from the store, or new. `json`: the data's JSON as
   * the store holds it, if it has it at hand (the session as JSON is compared with it at the
   * end: equal, the store already holds what the session is).
   */
  expose(id: string, data: Partial<SessionData>, stored: boolean, json?: string): void {
    const cookie = new SessionCookie(this.layer.secure, this.layer.deps.now, data.cookie as never);
    const session = new Session(id, cookie, data, this) as RequestSession;
    this.req.session = session;
    this.req.sessionID = id;
    this.stored = stored;
    this.loaded = this.saved = json ?? JSON.stringify(session);
    this.fresh = false;
  }

  /** The session's Set-Cookie line for this response, or null when none is due. */
  decideCookie(): string | null {
    const { config, name, deps } = this.layer;
    const { req } = this;
    const session = this.session;
    if (!session) return this.destroyed && this.cookieId ? clearCookieLine(config, name) : null;
    if (this.dropped) return null;
    const newId = req.sessionID !== this.cookieId;
    const persistent = session.cookie.expires !== null;
    // Most requests: a stored session whose cookie the browser already holds as it should.
    if (!newId && !this.rotate && !persistent) return null;
    const json = this.ended ?? JSON.stringify(session);
    const willBeStored = this.stored || (!this.committed && json !== this.saved);
    if (!willBeStored || !(newId || this.rotate || json !== this.loaded)) return null;
    const value = signSessionId(req.sessionID, config.sessionSecrets[0]!);
    return setCookieLine(config, name, value, session.cookie.maxAge, deps.now());
  }

  /** Step 7: the one Set-Cookie, when the headers go out (after step 6 in the usual order). */
  writeCookie(): void {
    const line = this.decideCookie();
    if (!line) return;
    if (this.req.sessionID !== this.cookieId) {
      const unlock = this.layer.deps.storage.locks.lockNew(this.req.sessionID);
      if (unlock) this.hold(unlock);
    }
    this.res.append("Set-Cookie", line);
  }

  /** Step 6: saves, then ends the response as the route asked (`args`: its arguments to end). */
  endAfterSaving(args: unknown[]): Response {
    const { res } = this;
    if (res.headersSent) {
      // A route that streamed: its headers are gone, the save can only follow them.
      this.commit()
        .catch((err) => this.layer.deps.onError(err, "could not save the session of a streamed page"))
        .finally(() => this.settle());
      return this.end.apply(res, args);
    }
    this.saveThenEnd(args).catch(this.layer.endError);
    return res;
  }

  private async saveThenEnd(args: unknown[]): Promise<void> {
    const { res } = this;
    try {
      await this.commit();
    } catch (err) {
      this.settle();
      // Nothing of this response has gone out: it becomes the error page, and no
      // cookie, header or message of the page that failed goes with it.
      (this.req as { session?: unknown }).session = undefined;
      res.removeHeader("Set-Cookie");
      res.removeHeader("Location");
      res.locals.currentUser = undefined;
      res.locals.csrfToken = () => "";
      this.next(err);
      return;
    }
    this.settle();
    this.end.apply(res, args);
  }

  /** Writes the session now, if it may be stored at all; false if it may not, or is stored no more. */
  private async write(json: string): Promise<boolean> {
    const session = this.session!;
    if (this.dropped) return false;
    const { admission, storage } = this.layer.deps;
    if (!(await admission.mayStore(this.req, { stored: this.stored, loggedIn: session.login !== undefined }))) {
      this.dropped = true;
      return false;
    }
    // A session this request loaded is written back only if it is still stored: one ended
    // elsewhere meanwhile (log-out everywhere, a revoke) stays ended, and gets no cookie.
    let written: boolean;
    try {
      written = await storage.store.set(this.req.sessionID, session, this.lifetime(session), {
        json,
        existing: this.stored,
        held: this.record,
      });
    } finally {
      this.letGo(); // the store has closed it, unless it could not use it
    }
    if (!written) {
      this.stored = false;
      this.dropped = true;
      return false;
    }
    this.stored = true;
    this.saved = json;
    this.fresh = true;
    return true;
  }

  /** Step 6: one comparison, then a save, a touch, or nothing. */
  private async commit(): Promise<void> {
    if (this.committed) return;
    this.committed = true;
    const session = this.session;
    if (!session || this.dropped) return;
    const started = performance.now();
    const json = (this.ended = JSON.stringify(session));
    if (json !== this.saved) await this.write(json);
    else if (this.stored && !this.fresh) {
      try {
        await this.layer.deps.storage.store.touch(this.req.sessionID, this.lifetime(session), this.record);
      } finally {
        this.letGo(); // the store has closed it, unless it could not use it
      }
    }
    this.timings.saveMs = performance.now() - started;
  }

  // The methods of `req.session` (SessionControl), for this request.

  async regenerate(): Promise<void> {
    this.letGo();
    await this.layer.deps.storage.store.destroy(this.req.sessionID);
    this.expose(generateSessionId(), {}, false);
  }

  async destroy(): Promise<void> {
    this.letGo();
    await this.layer.deps.storage.store.destroy(this.req.sessionID);
    (this.req as { session?: unknown }).session = undefined;
    this.stored = false;
    this.destroyed = true;
  }

  async save(): Promise<void> {
    try {
      await this.write(JSON.stringify(this.req.session));
    } catch (err) {
      // The route answers with the error page: that answer must not try again, nor
      // send a cookie for a session that was never stored.
      this.dropped = true;
      throw err;
    }
  }

  async reload(): Promise<void> {
    this.letGo();
    const record = await this.layer.deps.storage.store.get(this.req.sessionID);
    if (!record) throw new Error("the session is no longer stored");
    this.expose(this.req.sessionID, record.data, true, record.json);
  }

  touch(): void {
    this.fresh = false;
  }
}

export type SessionLayer = ReturnType<typeof sessionLayer>;

export function sessionLayer(config: Config, deps: SessionLayerDeps) {
  const { storage, admission } = deps;
  const { store, locks } = storage;
  const layer: LayerParts = {
    config,
    deps,
    name: cookieName(config, "sid"),
    secure: config.env === "production",
    lockError: (err) => deps.onError(err, "could not release a session lock"),
    endError: (err) => deps.onError(err, "could not end a response after its session was saved"),
  };
  const signedCookies = new Memo<SignedCookie>();
  const unsignOnce = (value: string) => unsignSessionCookie(value, config.sessionSecrets);

  return {
    /** Steps 1 to 4, and the hooks of steps 6 to 8. */
    async openSession(req: Request, res: Response, next: NextFunction): Promise<void> {
      // Mounted twice (an app inside another): the first one has this request.
      if (states.has(req)) return next();
      // 1. Plain HTTP in production.
      if (admission.refusePlainHttpForm(req, res)) return;

      // 2. The cookie.
      const value = readCookie(req, layer.name);
      const signed = value === undefined ? undefined : signedCookies.answer(value, unsignOnce);
      req.cookieSessionId = signed?.id;
      const state = new SessionInRequest(layer, req, res, next, signed?.id, signed?.secretIndex ?? 0);
      states.set(req, state);
      (res as StatefulResponse)[STATE] = state;
      res.locals.sessionTimings = state.timings;

      // 8, registered first so that nothing below can leave a lock behind. The locks go once
      // the answer is out (or the client gone) AND this request's own save has settled: a
      // client that disconnects mid-request (a cancelled tab, a second submit) must not let
      // the next request of its session load what this one is about to overwrite.
      res.on("close", onClose);

      try {
        // 3. The lock.
        if (signed) {
          const started = performance.now();
          state.hold(await locks.acquire(signed.id)); // SessionBusy: a 503 with Retry-After
          state.timings.lockWaitMs = performance.now() - started;
          if (state.answered) return state.settle(); // the client left while it waited: nothing to do
        }
        // 4. The record.
        const started = performance.now();
        const record = signed ? await store.get(signed.id, { hold: true }) : undefined;
        state.timings.loadMs = performance.now() - started;
        state.record = record?.held;
        if (state.released) state.letGo(); // the client left meanwhile
        if (record) state.expose(signed!.id, record.data, true, record.json);
        else state.expose(generateSessionId(), {}, false);
      } catch (err) {
        state.settled = true;
        state.release();
        return next(err);
      }

      // 7. The one Set-Cookie, when the headers go out; 6. save before answering.
      state.writeHead = res.writeHead as Write;
      res.writeHead = writeHeadAfterCookie as Response["writeHead"];
      state.end = res.end as Write;
      res.end = endAfterSaving as Response["end"];

      next();
    },

    /** Step 5: the log-in check, after the body parser (see above). */
    checkLogin: deps.loginSessions.check,
  };
}
