// CSRF protection without anything kept in the session, so a page with a form stores
// nothing. Every state-changing form sends a hidden `_csrf` field holding an HMAC (keyed
// with the first SESSION_SECRET, checked against each one):
// - of the session id, for a visitor with a stored session (OWASP's HMAC-based token);
// - for a visitor without one, of a random value in a small cookie of its own, `csrf`
//   (OWASP's signed double-submit cookie). Such a token stays good once a session
//   exists (the first page of a visit had no session yet), but only while nobody is
//   logged in: log-in gives a new session id, so a token seen before it is refused after.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { isLoggedIn } from "../auth/requireLogin";
import { field } from "../http/forms";
import { Memo } from "./memo";
import type { Config } from "../config";
import { cookieName, readCookie, setCookie } from "../sessions/cookies";
import { hasStoredSession } from "../sessions/sessionLayer";

/** 32 random bytes, base64url; a token (an HMAC-SHA256) has the same length. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
const TOKEN_LENGTH = 43;
/** Methods that change nothing: no token asked. */
export const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export class InvalidCsrfToken extends Error {
  readonly status = 403;
  constructor() {
    super("invalid CSRF token");
    this.name = "InvalidCsrfToken";
  }
}

export type Csrf = ReturnType<typeof createCsrf>;

export function csrfCookieName(config: Config): string {
  return cookieName(config, "csrf");
}

export function createCsrf(config: Config) {
  const name = csrfCookieName(config);

  const hmac = (secret: string, boundTo: string) =>
    createHmac("sha256", secret).update(`handstamp-csrf\0${boundTo}`).digest("base64url");
  const currentToken = (boundTo: string) => hmac(config.sessionSecrets[0]!, boundTo);
  /**
   * A stored session's token, remembered: its pages ask for it on every request. (A token
   * of the `csrf` cookie is not: that value comes from the client, and seldom comes twice.)
   */
  const sessionTokens = new Memo<string>();

  function cookieValue(req: Request): string | undefined {
    const value = readCookie(req, name);
    return value !== undefined && COOKIE_VALUE.test(value) ? value : undefined;
  }

  /** What a valid token of this request may be an HMAC of. */
  function acceptedBindings(req: Request): string[] {
    const bindings = hasStoredSession(req) ? [`session\0${req.sessionID}`] : [];
    // A form from before the session existed (the first page of a visit), while nobody is logged in.
    const value = cookieValue(req);
    if (value !== undefined && !isLoggedIn(req)) bindings.push(`cookie\0${value}`);
    return bindings;
  }

  function isValid(req: Request): boolean {
    const given = Buffer.from(field(req.body, "_csrf") ?? "");
    if (given.length !== TOKEN_LENGTH) return false;
    let valid = false;
    // Every secret verifies (rotation). No early exit: a valid token costs what a wrong one does.
    for (const secret of config.sessionSecrets) {
      for (const binding of acceptedBindings(req)) {
        if (timingSafeEqual(given, Buffer.from(hmac(secret, binding)))) valid = true;
      }
    }
    return valid;
  }

  /** The token of this request's forms (and the cookie it needs, if the visitor has no session). */
  function issue(req: Request, res: Response): string {
    if (hasStoredSession(req)) return sessionTokens.answer(`session\0${req.sessionID}`, currentToken)!;
    let value = cookieValue(req);
    if (value === undefined) {
      value = randomBytes(32).toString("base64url");
      setCookie(res, config, name, value);
    }
    return currentToken(`cookie\0${value}`);
  }

  return {
    /** Lets templates ask for the token only where a form needs one. */
    expose(req: Request, res: Response, next: NextFunction): void {
      let token: string | undefined;
      res.locals.csrfToken = (): string => (token ??= issue(req, res));
      next();
    },
    protect(req: Request, _res: Response, next: NextFunction): void {
      if (SAFE_METHODS.has(req.method) || isValid(req)) return next();
      next(new InvalidCsrfToken());
    },
    isCsrfError: (err: unknown) => err instanceof InvalidCsrfToken,
  };
}
