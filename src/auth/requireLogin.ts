// The guard for pages that need a logged-in user: others are sent to the login page,
// which brings them back here afterwards.
import type { NextFunction, Request, Response } from "express";
import { flash } from "../http/flash";
import { saveSession } from "../sessions/promises";

export function isLoggedIn(req: Request): boolean {
  return typeof req.session?.name === "string";
}

export async function requireLogin(req: Request, res: Response, next: NextFunction): Promise<void> {
  if (isLoggedIn(req)) return next();
  // A visitor just told their session expired needs no second message.
  if (!req.session.flash?.length) flash(req, "error", "Please log in to see this page.");
  await saveSession(req);
  res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
}
