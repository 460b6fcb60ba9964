// Flash messages (Flask's flash / get_flashed_messages): kept in the session until the
// next page is rendered, shown once, then gone.
//
// Log-out is the exception: it deletes the session, so its message travels in a small
// cookie of its own that names one of a few fixed messages (never free text).
import { parse as parseCookies } from "cookie";
import type { NextFunction, Request, Response } from "express";
import type { SessionData } from "express-session";
import type { Config } from "../config";
import { cookieName, sessionCookieOptions } from "../sessions/middleware";

export type FlashCategory = "success" | "error" | "info";
export type FlashMessage = SessionData["flash"][number];

export function flash(req: Request, category: FlashCategory, text: string): void {
  (req.session.flash ??= []).push({ category, text });
}

/** Messages that can outlive the session, by the key their cookie carries. */
const SESSIONLESS: Record<string, FlashMessage> = {
  "logged-out": { category: "info", text: "You have been logged out." },
};
export type SessionlessFlash = "logged-out";

export function flashCookieName(config: Config): string {
  return cookieName(config, "flash");
}

export function flashMiddleware(config: Config) {
  const cookieName = flashCookieName(config);
  const cookieOptions = sessionCookieOptions(config);
  return function exposeFlash(req: Request, res: Response, next: NextFunction): void {
    res.flashAfterSession = (key) => res.cookie(cookieName, key, { ...cookieOptions, maxAge: 60_000 });
    // Read lazily by the layout, so only a rendered page uses messages up (not a redirect).
    res.locals.takeFlashes = (): FlashMessage[] => {
      const messages: FlashMessage[] = [];
      const key = req.headers.cookie?.includes(cookieName)
        ? parseCookies(req.headers.cookie)[cookieName]
        : undefined;
      if (key !== undefined) {
        res.clearCookie(cookieName, cookieOptions);
        if (Object.hasOwn(SESSIONLESS, key)) messages.push(SESSIONLESS[key]!);
      }
      if (req.session?.flash?.length) {
        messages.push(...req.session.flash);
        delete req.session.flash;
      }
      return messages;
    };
    next();
  };
}

declare module "express-serve-static-core" {
  interface Response {
    /** Shows a fixed message on the next page, for when there is no session to hold it. */
    flashAfterSession(key: SessionlessFlash): void;
  }
}
