// The middleware that puts the per-session lock around express-session: it takes the
// lock before the session is loaded and gives it back when the response has finished,
// which express-session delays until the session is saved. So the next request of the
// same session always loads what the previous one saved.
import { unsign } from "cookie-signature";
import { parse as parseCookies } from "cookie";
import type { NextFunction, Request, Response } from "express";
import onHeaders from "on-headers";
import type { Config } from "../config";
import { isSessionId } from "./ids";
import type { Release, SessionLocks } from "./lock";
import { sessionCookieName } from "./middleware";

/** The session id of a correctly signed cookie, as express-session will read it. */
export function signedSessionId(cookieHeader: string | undefined, name: string, secrets: readonly string[]) {
  if (!cookieHeader?.includes(name)) return undefined;
  const value = parseCookies(cookieHeader)[name];
  if (!value?.startsWith("s:")) return undefined;
  for (const secret of secrets) {
    const id = unsign(value.slice(2), secret);
    if (id !== false) return isSessionId(id) ? id : undefined;
  }
  return undefined;
}

export function serialiseSessions(
  config: Config,
  locks: SessionLocks,
  onReleaseError: (err: unknown) => void,
) {
  const name = sessionCookieName(config);
  return async function oneRequestAtATime(req: Request, res: Response, next: NextFunction) {
    const id = signedSessionId(req.headers.cookie, name, config.sessionSecrets);
    const held: Release[] = [];
    if (id) {
      try {
        held.push(await locks.acquire(id));
      } catch (err) {
        return next(err); // SessionBusy: the error handler answers 503 with Retry-After
      }
    }
    // A new session (first visit, log-in) gets its cookie in the headers, which go out
    // before express-session has finished saving: lock the new id before the browser can
    // send it back, so its next request waits for the save.
    onHeaders(res, function lockNewSession() {
      if (req.sessionID && req.sessionID !== id && String(res.getHeader("Set-Cookie")).includes(`${name}=`)) {
        const release = locks.lockNew(req.sessionID);
        if (release) held.push(release);
      }
    });
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      for (const release of held) release().catch(onReleaseError);
    };
    res.once("finish", done);
    res.once("close", done);
    next();
  };
}
