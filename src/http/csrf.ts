// CSRF protection with csrf-sync: a synchroniser token kept in the session and sent
// back by every state-changing form in a hidden `_csrf` field.
import { csrfSync } from "csrf-sync";
import type { NextFunction, Request, Response } from "express";
import { field } from "../auth/validation";

export type Csrf = ReturnType<typeof createCsrf>;

export function createCsrf() {
  const csrf = csrfSync({
    getTokenFromRequest: (req) => field(req.body, "_csrf"),
    size: 32,
  });
  return {
    protect: csrf.csrfSynchronisedProtection,
    isCsrfError: (err: unknown) => err === csrf.invalidCsrfTokenError,
    /** A fresh token, for after log-in: a token seen before log-in is not reused after it. */
    rotate: (req: Request) => csrf.generateToken(req, true),
    /** Lets templates ask for the token only where a form needs one. */
    expose(req: Request, res: Response, next: NextFunction) {
      res.locals.csrfToken = () => csrf.generateToken(req);
      next();
    },
  };
}
