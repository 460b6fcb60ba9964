// The session layer: express-session over our store, with the cookie settings that
// matter (see "How sessions work here" in the README for why each one is there).
import session from "express-session";
import type { Config } from "../config";
import { generateSessionId } from "./ids";
import type { LoginRecord } from "./lifetime";

declare module "express-session" {
  interface SessionData {
    visits: number;
    /** Set at log-in: the user's name, as in the Flask sessions course's session["name"]. */
    name: string;
    userId: number;
    flash: { category: "success" | "error" | "info"; text: string }[];
    /** Product id → quantity (src/cart/). */
    cart: Record<string, number>;
    /** When the record was first stored (ms). */
    createdAt: number;
    /** Set at log-in (src/sessions/lifetime.ts). */
    login: LoginRecord;
    /**
     * Records written before the CSRF token moved to its own cookie hold one: the
     * inspector and the CLI still hide it until those records expire.
     */
    csrfToken?: string;
  }
}

/**
 * Every cookie of the site is named like this: in production the `__Host-` prefix makes
 * the browser insist on Secure, Path=/ and no Domain.
 */
export function cookieName(config: Config, base: string): string {
  return config.env === "production" ? `__Host-${base}` : base;
}

export function sessionCookieName(config: Config): string {
  return cookieName(config, "sid");
}

/** The attributes of every cookie of the site (the session's, the flash's, the device's). */
export function sessionCookieOptions(config: Config) {
  return {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: config.env === "production",
    path: "/",
  };
}

export function sessionMiddleware(config: Config, store: session.Store) {
  return session({
    name: sessionCookieName(config),
    secret: [...config.sessionSecrets],
    store,
    genid: generateSessionId,
    // Only sessions that hold something are stored, and only when they change:
    // an unchanged session is touched (its expiry pushed forward), not rewritten.
    resave: false,
    saveUninitialized: false,
    // No maxAge: the cookie ends with the browser (the Flask course's SESSION_PERMANENT =
    // False) while the store enforces the idle timeout on the server.
    cookie: sessionCookieOptions(config),
  });
}
