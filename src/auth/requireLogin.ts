// The guard for pages that need a logged-in user: others are sent to the login page,
// which brings them back here afterwards. The "please log in" notice travels in the
// flash cookie, so a visitor without a session does not get one stored for it.
import type { NextFunction, Request, Response } from "express";

export function isLoggedIn(req: Request): boolean {
  return typeof req.session?.name === "string";
}

export function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (isLoggedIn(req)) return next();
  // A visitor just told their session expired needs no second message.
  if (!req.session.flash?.length) res.flashAfterSession("login-required");
  res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
}
