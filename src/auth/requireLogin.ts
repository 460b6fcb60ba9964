// Who is logged in, read one way everywhere (`currentUser`), and the guard for pages that
// need a logged-in user: others are sent to the login page, which brings them back here
// afterwards. The "please log in" notice travels in the flash cookie, so a visitor without
// a session does not get one stored for it.
import type { NextFunction, Request, Response } from "express";
import type { SessionData } from "express-session";

/** The logged-in user of this request, or undefined. Set at log-in with `session.login`. */
export function currentUser(req: Request): SessionData["user"] | undefined {
  const user = req.session?.user;
  return req.session?.login && typeof user?.id === "number" && typeof user.name === "string"
    ? user
    : undefined;
}

export function isLoggedIn(req: Request): boolean {
  return currentUser(req) !== undefined;
}

export function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (isLoggedIn(req)) return next();
  // A visitor just told their session expired needs no second message.
  if (!req.session.flash?.length) res.flashAfterSession("login-required");
  res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
}
