// The middleware that puts the per-session lock around express-session: it takes the
// lock before the session is loaded and gives it back when the response has finished,
// which express-session delays until the session is saved. So the next request of the
// same session always loads what the previous one saved.
import { sign, unsign } from "cookie-signature";
import { parse as parseCookies } from "cookie";
import type { NextFunction, Request, Response } from "express";
import onHeaders from "on-headers";
import type { Config } from "../config";
import { isSessionId } from "./ids";
import type { Release, SessionLocks } from "./lock";
import { sessionCookieName } from "./middleware";

/**
 * The session id of a correctly signed cookie, as express-session will read it, and the
 * index of the secret that signed it (0 is the current one).
 */
export function signedSessionId(
  cookieHeader: string | undefined,
  name: string,
  secrets: readonly string[],
): { id: string; secretIndex: number } | undefined {
  if (!cookieHeader?.includes(name)) return undefined;
  const value = parseCookies(cookieHeader)[name];
  if (!value?.startsWith("s:")) return undefined;
  for (const [secretIndex, secret] of secrets.entries()) {
    const id = unsign(value.slice(2), secret);
    if (id !== false) return isSessionId(id) ? { id, secretIndex } : undefined;
  }
  return undefined;
}

/**
 * Whether this request's session was loaded from the store (the cookie named a stored
 * session, and it has not been replaced since), rather than made for this request.
 */
export function hasStoredSession(req: Request): boolean {
  return req.session !== undefined && req.cookieSessionId !== undefined && req.sessionID === req.cookieSessionId;
}

/**
 * express-session writes a persistent cookie with Expires only; Max-Age (which wins in
 * every current browser, and does not depend on the client's clock) is added here.
 */
function addMaxAge(res: Response, name: string, maxAgeMs: number): void {
  const lines = res.getHeader("Set-Cookie");
  if (!Array.isArray(lines)) return;
  const maxAge = `; Max-Age=${Math.round(maxAgeMs / 1000)}`;
  res.setHeader(
    "Set-Cookie",
    lines.map((line) => (line.startsWith(`${name}=`) && !line.includes("; Max-Age=") ? line.replace("; Path=", `${maxAge}; Path=`) : line)),
  );
}

export function serialiseSessions(
  config: Config,
  locks: SessionLocks,
  onReleaseError: (err: unknown) => void,
) {
  const name = sessionCookieName(config);
  return async function oneRequestAtATime(req: Request, res: Response, next: NextFunction) {
    const signed = signedSessionId(req.headers.cookie, name, config.sessionSecrets);
    const id = signed?.id;
    req.cookieSessionId = id;
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
    // Registered before express-session's own hook, so it runs after it and sees its cookie.
    onHeaders(res, function lockNewSession() {
      const setsCookie = String(res.getHeader("Set-Cookie")).includes(`${name}=`);
      if (req.sessionID && req.sessionID !== id && setsCookie) {
        const release = locks.lockNew(req.sessionID);
        if (release) held.push(release);
      }
      if (setsCookie && req.session?.cookie.maxAge) addMaxAge(res, name, req.session.cookie.maxAge);
      // Secret rotation: a cookie signed with an older secret is re-issued with the new one.
      if (signed && signed.secretIndex > 0 && !setsCookie && req.session && req.sessionID === id) {
        const value = `s:${sign(id!, config.sessionSecrets[0]!)}`;
        const cookie = req.session.cookie as typeof req.session.cookie & { serialize(n: string, v: string): string };
        res.append("Set-Cookie", cookie.serialize(name, value));
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
