// Contender: handstamp with the leanest session layer we could write for the counter page.
// It shows how close to "the same app with the session layer off" (layerOff.ts) a session
// layer can get on this machine without any of handstamp's own session code (issue #14's
// "≥ 0.7×" target). It is the compiled app (dist/), built by its own createApp in production
// mode as layerOff.ts builds it. The session layer is replaced by a few lines that do, for a
// GET with a session cookie, only what #14 keeps on, each once and synchronously:
// - the cookie's HMAC checked (express-session's `s:` format, as handstamp signs it);
// - the per-session lock: handstamp's own (the in-process queue and the hard link in the
//   sessions folder, one of each taken and given back);
// - the record: its file opened once, read, parsed, its expiry checked; the session exposed
//   as handstamp's Session object (as layerOff.ts does) and kept as JSON to see whether it
//   changed; at `res.end`, if it did, the record written back in place with one write() on
//   the same file, before the answer; then the file closed and the lock given back;
// - the log-in check, for a logged-in session: the log-in's row read from SQLite;
// - the CSRF token: an HMAC of the session id, made when the page asks for it.
// Nothing else: no fstat (the file store's regular-file check), no futimes (its mtime hint
// for the sweep), no Set-Cookie, touch, rotation, admission, timings or streaming, and an
// error page for a record that is missing, unreadable or expired. It is not a session layer
// anyone should run: it shows the cost of the parts.
//
// BENCH_LEAN=min drops three of them: the lock across processes (the in-process queue
// alone), the log-in check, and the HMAC on every request (each cookie is checked once,
// then remembered). What is left is about what any layer keeping sessions in files shared
// by processes does on the counter page: a read and a write of the record (and the CSRF
// token's HMAC).
//
// BENCH_LEAN=link is the leanest layer doing what handstamp's layer does now: `min` with the
// lock across processes kept (the hard link), and the log-in's row read only when this
// process has not found that log-in live within the last minute, as src/auth/loginSessions.ts
// does for a GET.
//
// Its sessions come from GET /bench-login (as the tutorial and Flask contenders' do): a
// logged-in session of user 1 ("bench"), its record written by handstamp's file store and
// its log-in row by handstamp's own code. A request without a cookie gets an empty session,
// never stored (the bench asking whether the server is up).
import { createHmac } from "node:crypto";
import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import path from "node:path";
import type { NextFunction, Request, Response } from "express";
import { listen, nothingStored } from "./page";

const { createApp } = require("../../dist/app") as typeof import("../../src/app");
const { parseConfig } = require("../../dist/config") as typeof import("../../src/config");
const { createLogins } = require("../../dist/auth/logins") as typeof import("../../src/auth/logins");
const { LOGIN_RECHECK_MS } =
  require("../../dist/auth/loginSessions") as typeof import("../../src/auth/loginSessions");
const { cookieName, readCookie, setCookieLine } =
  require("../../dist/sessions/cookies") as typeof import("../../src/sessions/cookies");
const { generateSessionId } = require("../../dist/sessions/ids") as typeof import("../../src/sessions/ids");
const { loginRecord, ttlMs } =
  require("../../dist/sessions/lifetime") as typeof import("../../src/sessions/lifetime");
const { KeyedMutex } = require("../../dist/sessions/lock") as typeof import("../../src/sessions/lock");
const { Session, SessionCookie } =
  require("../../dist/sessions/session") as typeof import("../../src/sessions/session");
const { signSessionId, unsignSessionCookie } =
  require("../../dist/sessions/sessionLayer") as typeof import("../../src/sessions/sessionLayer");

const config = parseConfig(process.env);
const mode =
  process.env.BENCH_LEAN === "min" || process.env.BENCH_LEAN === "link" ? process.env.BENCH_LEAN : "all";
/** Each cookie's HMAC checked once, then remembered (`min` and `link`). */
const remember = mode !== "all";
const name = cookieName(config, "sid");
const secret = config.sessionSecrets[0]!;
const RECORD = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const page = Buffer.allocUnsafe(4096);
/** Cookies already checked (`min` and `link`); `min`'s in-process queue; `link`'s log-ins found live, and when. */
const checked = new Map<string, string>();
const confirmed = new Map<string, number>();
const queue = new KeyedMutex();
/** Requests whose session this layer loaded from its record (the others get an empty one). */
const lean = new WeakSet<Request>();

function sessionIdOf(req: Request): string | undefined {
  const value = readCookie(req, name);
  if (value === undefined) return undefined;
  let id = remember ? checked.get(value) : undefined;
  if (id === undefined) {
    id = unsignSessionCookie(value, config.sessionSecrets)?.id;
    if (remember && id !== undefined) checked.set(value, id);
  }
  return id;
}

/** Locks a session at once, or says it is busy (the bench's sessions seldom are). */
function lock(id: string): (() => void) | undefined {
  if (mode === "min") return queue.tryAcquire(id) ? () => queue.release(id) : undefined;
  const release = handstamp.storage.locks.lockNew(id);
  return release && (() => void release().catch((err: unknown) => console.error("could not unlock", err)));
}

async function openSession(req: Request, res: Response, next: NextFunction): Promise<void> {
  if (req.path === "/bench-login") return void benchLogin(res).catch(next);
  const id = sessionIdOf(req);
  if (id === undefined || req.method !== "GET") {
    req.session = new Session(
      generateSessionId(),
      new SessionCookie(true, Date.now),
      {},
      nothingStored,
    ) as Request["session"];
    req.sessionID = req.session.id;
    return next();
  }
  const unlock = lock(id);
  if (!unlock) return void res.status(503).send("busy");
  let fd = -1;
  let size: number;
  let data: Record<string, unknown>;
  try {
    // The bench sends only cookies of records /bench-login wrote: anything else is an error page.
    fd = openSync(path.join(config.sessionDir, `${id}.json`), RECORD);
    size = readSync(fd, page, 0, page.length, 0);
    const { expiresAt, ...rest } = JSON.parse(page.toString("utf8", 0, size)) as Record<string, unknown>;
    if (!(Date.parse(String(expiresAt)) > Date.now())) throw new Error("the session has expired");
    data = rest;
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    unlock();
    throw err;
  }
  const session = new Session(
    id,
    new SessionCookie(true, Date.now, data.cookie as never),
    data,
    nothingStored,
  );
  const loaded = JSON.stringify(session);
  req.session = session as Request["session"];
  req.sessionID = id;
  lean.add(req);
  const end = res.end as (...args: unknown[]) => Response;
  res.end = function saveThenEnd(...args: unknown[]) {
    res.end = end as Response["end"];
    try {
      const json = JSON.stringify(req.session);
      if (json !== loaded) {
        const expiresAt = new Date(Date.now() + ttlMs(config, req.session, Date.now())).toISOString();
        const text = `{"expiresAt":"${expiresAt}",${json.slice(1)}`;
        const bytes = Buffer.from(text.length < size ? text.padEnd(size, " ") : text);
        writeSync(fd, bytes, 0, bytes.length, 0);
      }
    } finally {
      closeSync(fd);
      unlock();
    }
    return end.apply(res, args);
  } as Response["end"];
  next();
}

async function checkLogin(req: Request, res: Response, next: NextFunction): Promise<void> {
  if (mode === "min" || !lean.has(req) || !req.session.login) return next();
  const at = Date.now();
  const seen = mode === "link" ? confirmed.get(req.sessionID) : undefined;
  if (seen !== undefined && seen <= at && at - seen < LOGIN_RECHECK_MS) return next();
  const login = await logins.find(req.sessionID);
  if (!login || login.userId !== req.session.user?.id || !(req.session.login.until > at)) {
    res.status(403).send("logged out");
    return;
  }
  if (mode === "link") confirmed.set(req.sessionID, at);
  next();
}

const handstamp = createApp(config, {
  layersOff: {
    sessions: { openSession, checkLogin },
    csrf: {
      expose(req, res, next) {
        let token: string | undefined;
        res.locals.csrfToken = () =>
          (token ??= createHmac("sha256", secret)
            .update(`handstamp-csrf\0session\0${req.sessionID}`)
            .digest("base64url"));
        next();
      },
      protect: (_req, _res, next) => next(),
      isCsrfError: (_err: unknown): _err is never => false,
    },
  },
});
const logins = createLogins(handstamp.db);

/** A new logged-in session of user "bench", its record and its log-in row, as handstamp's log-in makes them. */
async function benchLogin(res: Response): Promise<void> {
  // Two workers may both find no such user: the one whose create loses finds the other's.
  const user =
    (await handstamp.users.findByName("bench")) ??
    (await handstamp.users.create("bench", "-")) ??
    (await handstamp.users.findByName("bench"))!;
  const id = generateSessionId();
  const at = Date.now();
  const login = loginRecord(config, at, false);
  const data = {
    cookie: new SessionCookie(true, Date.now),
    user: { id: user.id, name: user.username },
    login,
    visits: 0,
  };
  const ttl = ttlMs(config, data, at);
  await handstamp.storage.store.set(id, data, ttl);
  await logins.add({
    sessionId: id,
    userId: user.id,
    createdAt: at,
    expiresAt: at + ttl,
    userAgent: "bench",
  });
  res.append("Set-Cookie", setCookieLine(config, name, signSessionId(id, secret)));
  res.send("logged in");
}

listen(handstamp.app);
