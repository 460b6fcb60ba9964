// Every type this app adds to Express, in one place. `req.session` keeps express-session's
// type (so code and lessons written for express-session read the same here), although the
// session layer that fills it is our own (src/sessions/sessionLayer.ts).
import "express-session";
import type { LoginRecord } from "../sessions/lifetime";

/** What a flash message says about itself; the rest of the app derives it from here. */
type FlashCategory = "success" | "error" | "info";

declare module "express-session" {
  interface SessionData {
    visits: number;
    /** Who is logged in: set at log-in, with `login` (src/auth/loginSessions.ts). */
    user: { id: number; name: string };
    /** Set at log-in (src/sessions/lifetime.ts). */
    login: LoginRecord;
    flash: { category: FlashCategory; text: string }[];
    /** Product id → quantity (src/cart/). */
    cart: Record<string, number>;
    /** When the record was first stored (ms). */
    createdAt: number;
    /**
     * Records written before the CSRF token moved to its own cookie hold one: the
     * inspector and the CLI still hide it until those records expire.
     */
    csrfToken?: string;
  }
}

declare module "express-serve-static-core" {
  interface Request {
    /** The session id of a correctly signed cookie, before the store looked it up. */
    cookieSessionId?: string;
  }
  interface Response {
    /** Shows a fixed message on the next page, for when there is no session to hold it. */
    flashAfterSession(key: "logged-out" | "login-required"): void;
  }
}
