// Save first, answer after. express-session sends a response's headers and all but its
// last byte before the session's save has finished, and if the save fails the visitor still
// gets the whole page: a count or a cart line that was never stored. Here a changed session
// is saved before the response starts; if that fails, the visitor gets the 503 page instead
// and nothing claims to be saved. A session saved here is not touched again by
// express-session afterwards (one write per request, not a write and a touch).
import type { NextFunction, Request, Response } from "express";
import type { Session, SessionData } from "express-session";

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

export function saveBeforeAnswering(req: Request, res: Response, next: NextFunction): void {
  markSaved(req); // as loaded
  const end = res.end as (...args: unknown[]) => Response;
  res.end = function answerAfterSaving(...args: unknown[]) {
    const session = req.session;
    if (!session || snapshot(session) === lastSaved.get(req)) return end.apply(res, args);
    res.end = end as Response["end"];
    session.save((err?: unknown) => {
      if (err) {
        // Nothing of this response has gone out: answer with the error page instead, and
        // leave the session alone (express-session would try to save it again).
        (req as { session?: unknown }).session = undefined;
        res.locals.currentUser = undefined;
        res.locals.csrfToken = () => "";
        return next(err);
      }
      Object.defineProperty(session, JUST_SAVED, { value: true, configurable: true });
      end.apply(res, args);
    });
    return res;
  } as Response["end"];
  next();
}
