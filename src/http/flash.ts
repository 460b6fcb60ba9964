// Flash messages (Flask's flash / get_flashed_messages): kept in the session until the
// next page is rendered, shown once, then gone.
//
// Log-out and "please log in" are the exceptions: the first deletes the session, the
// second is mostly for visitors who have none (and must not get a stored session for
// it), so their message travels in a small cookie of its own that names one of a few
// fixed messages (never free text).
//
// Only the last few messages are kept: redirects that are never followed (a script
// posting the same form) must not grow the session without end.
import type { NextFunction, Request, Response } from "express";
import type { SessionData } from "express-session";
import type { Config } from "../config";
import { clearCookie, cookieName, readCookie, setCookie } from "../sessions/cookies";

export type FlashMessage = SessionData["flash"][number];
export type FlashCategory = FlashMessage["category"];

/** How long a message waits in its cookie for the next page. */
const FLASH_COOKIE_MS = 60_000;

/** More messages than a page can sensibly show: older ones are dropped. */
export const FLASH_KEPT = 10;

export function flash(req: Request, category: FlashCategory, text: string): void {
  const messages = (req.session.flash ??= []);
  messages.push({ category, text });
  if (messages.length > FLASH_KEPT) messages.splice(0, messages.length - FLASH_KEPT);
}

/** Messages that can outlive the session, by the key their cookie carries. */
const SESSIONLESS: Record<string, FlashMessage> = {
  "logged-out": { category: "info", text: "You have been logged out." },
  "login-required": { category: "error", text: "Please log in to see this page." },
};
export type SessionlessFlash = Parameters<Response["flashAfterSession"]>[0];

export function flashCookieName(config: Config): string {
  return cookieName(config, "flash");
}

export function flashMiddleware(config: Config) {
  const name = flashCookieName(config);
  return function exposeFlash(req: Request, res: Response, next: NextFunction): void {
    res.flashAfterSession = (key) => setCookie(res, config, name, key, FLASH_COOKIE_MS);
    // Read lazily by the layout, so only a rendered page uses messages up (not a redirect).
    res.locals.takeFlashes = (): FlashMessage[] => {
      const messages: FlashMessage[] = [];
      const key = readCookie(req, name);
      if (key !== undefined) {
        clearCookie(res, config, name);
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
