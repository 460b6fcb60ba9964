// Contender: handstamp itself with its session layer switched off, issue #14's "same app
// with the session layer switched off (headers and log kept)". The compiled app (dist/, as
// the file store contender runs it), built by its own createApp in production mode: its
// security headers, request log, routers, flash, pages and templates. Switched off: the
// session layer (no cookie read or written, nothing locked, loaded, saved or touched, no
// log-in checked) and the CSRF token, which #14 counts with the session work (the forms
// get a fixed token, as on the bare page). Every request gets a new session object holding
// one logged-in session's data, in memory, never stored, so the counter page renders what
// it renders for the bench's logged-in sessions (the user in the navigation, the log-out
// form), with a count that is always 1. Its log lines have no session timings. Pages only:
// a form posted here would be refused (no CSRF check passes without a token of its own).
//
// With BENCH_FLOOR=required (and BENCH_FLOOR_DIR, BENCH_RECORD_SIZE), each request also does
// the `required` floor's hand-written session work (floorWork.ts: the signed cookie, the
// lock, the record read and written, the log-in row, the CSRF token, which the page then
// shows) and still renders the same page: that work's cost inside the app, apart from any
// session layer's.
import type { NextFunction, Request, Response } from "express";
import { floorWork } from "./floorWork";
import { listen, nothingStored } from "./page";

const { createApp } = require("../../dist/app") as typeof import("../../src/app");
const { parseConfig } = require("../../dist/config") as typeof import("../../src/config");
const { loginRecord } =
  require("../../dist/sessions/lifetime") as typeof import("../../src/sessions/lifetime");
const { Session, SessionCookie } =
  require("../../dist/sessions/session") as typeof import("../../src/sessions/session");

const config = parseConfig(process.env);
const id = "bench-session-layer-off-0000000000000000000"; // the shape of an id: 43 characters
const startedAt = Date.now();
const floorVisit = process.env.BENCH_FLOOR
  ? floorWork(process.env.BENCH_FLOOR, process.env.BENCH_FLOOR_DIR!, config.sessionSecrets[0]!)
  : undefined;
/** The CSRF token of each request the floor's work made one for. */
const floorTokens = new WeakMap<Request, string>();

async function openSession(req: Request, res: Response, next: NextFunction): Promise<void> {
  if (floorVisit) {
    const visit = floorVisit(req.headers.cookie);
    if ("status" in visit) return void res.status(visit.status).send(visit.message);
    if (visit.csrfToken !== undefined) floorTokens.set(req, visit.csrfToken);
  }
  const data = { visits: 0, user: { id: 1, name: "bench" }, login: loginRecord(config, startedAt, false) };
  req.session = new Session(id, new SessionCookie(true, Date.now), data, nothingStored) as Request["session"];
  req.sessionID = id;
  next();
}

const { app } = createApp(config, {
  layersOff: {
    sessions: { openSession, checkLogin: async (_req, _res, next) => next() },
    csrf: {
      expose(req, res, next) {
        const token = floorTokens.get(req) ?? "token";
        res.locals.csrfToken = () => token;
        next();
      },
      protect: (_req, _res, next) => next(),
      isCsrfError: (_err: unknown): _err is never => false,
    },
  },
});
listen(app);
