// Save first, answer after. express-session sends a response's headers and all but its
// last byte before the session's save has finished, and if the save fails the visitor still
// gets the whole page: a count or a cart line that was never stored. Here a changed session
// is saved before the response starts; if that fails, the visitor gets the 503 page instead
// and nothing claims to be saved. A session saved here is not touched again by
// express-session afterwards (one write per request, not a write and a touch).
//
// Every write, here or by a handler's own save, first asks `mayStore` (admission.ts). A
// session refused there is dropped before the response starts, so express-session
// neither stores it nor sends its cookie; the page itself is answered as usual.
import type { NextFunction, Request, Response } from "express";
import type { Session, SessionData } from "express-session";
import type { Admission } from "./admission";
import { hasStoredSession } from "./serialise";

/** Marks a session this middleware has just written, so the store skips its touch. */
export const JUST_SAVED = Symbol("handstamp.justSaved");

export function wasJustSaved(data: SessionData): boolean {
  return (data as SessionData & { [JUST_SAVED]?: boolean })[JUST_SAVED] === true;
}

/** The session as stored, without its cookie (which express-session compares apart too). */
function snapshot(session: Session & Partial<SessionData>): string {
  const { cookie: _cookie, ...data } = session;
  return JSON.stringify(data);
}

const lastSaved = new WeakMap<Request, string>();

/** Records that the request's session, as it is now, is what the store holds. */
export function markSaved(req: Request): void {
  if (req.session) lastSaved.set(req, snapshot(req.session));
}

type SaveCallback = (err?: unknown) => void;

export function saveBeforeAnswering({ mayStore, isPlainHttp }: Pick<Admission, "mayStore" | "isPlainHttp">) {
  const refused = new WeakSet<Request>();

  /** Handlers save too (before a redirect): those writes ask first as well. */
  function askBeforeSaving(req: Request, session: Session): void {
    const save = session.save.bind(session);
    session.save = function saveIfAllowed(callback?: SaveCallback) {
      mayStore(req).then(
        (allowed) => {
          if (allowed) return save(callback);
          refused.add(req);
          callback?.();
        },
        (err: unknown) => callback?.(err),
      );
      return session;
    };
  }

  /** express-session neither saves nor sends a cookie for a request with no session. */
  function drop(req: Request): void {
    (req as { session?: unknown }).session = undefined;
  }

  return function saveBeforeAnswering(req: Request, res: Response, next: NextFunction): void {
    markSaved(req); // as loaded
    if (req.session) askBeforeSaving(req, req.session);
    const end = res.end as (...args: unknown[]) => Response;
    res.end = function answerAfterSaving(...args: unknown[]) {
      const session = req.session;
      // Not even a touch over plain HTTP; and a new session left empty (a revoked one
      // replaced) is not worth a record.
      if (session && (refused.has(req) || isPlainHttp(req) || (!hasStoredSession(req) && snapshot(session) === "{}"))) {
        drop(req);
      }
      if (!req.session || snapshot(req.session) === lastSaved.get(req)) return end.apply(res, args);
      res.end = end as Response["end"];
      const fail = (err: unknown) => {
        // Nothing of this response has gone out: answer with the error page instead, and
        // leave the session alone (express-session would try to save it again).
        drop(req);
        res.locals.currentUser = undefined;
        res.locals.csrfToken = () => "";
        next(err);
      };
      mayStore(req).then((allowed) => {
        if (!allowed) {
          drop(req);
          return end.apply(res, args);
        }
        session!.save((err?: unknown) => {
          if (err) return fail(err);
          Object.defineProperty(session, JUST_SAVED, { value: true, configurable: true });
          end.apply(res, args);
        });
      }, fail);
      return res;
    } as Response["end"];
    next();
  };
}
