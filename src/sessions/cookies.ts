// Every cookie of the site, in one place: its name (`__Host-` in production, so the browser
// insists on Secure, Path=/ and no Domain), the attributes they all share, and how a
// Set-Cookie line is written. The request's Cookie header is parsed once, whoever asks.
import { parse, serialize, type SerializeOptions } from "cookie";
import type { Request, Response } from "express";
import type { Config } from "../config";

/** The site's cookies by the base of their name; views/session.njk explains each. */
export const SITE_COOKIES = ["sid", "device", "flash", "csrf"] as const;
export type SiteCookie = (typeof SITE_COOKIES)[number];

export function cookieName(config: Pick<Config, "env">, base: SiteCookie): string {
  return config.env === "production" ? `__Host-${base}` : base;
}

/** The attributes of every cookie of the site. */
export function cookieAttributes(config: Pick<Config, "env">) {
  return {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: config.env === "production",
    path: "/",
  };
}

/**
 * One Set-Cookie line. With a lifetime, both Max-Age (which wins in every current
 * browser and does not depend on the client's clock) and Expires (for older ones).
 */
export function setCookieLine(
  config: Pick<Config, "env">,
  name: string,
  value: string,
  lifetimeMs?: number,
  now = Date.now(),
): string {
  const options: SerializeOptions = { ...cookieAttributes(config) };
  if (lifetimeMs !== undefined) {
    options.maxAge = Math.max(0, Math.round(lifetimeMs / 1000));
    options.expires = new Date(now + Math.max(0, lifetimeMs));
  }
  return serialize(name, value, options);
}

/** Adds a Set-Cookie line to the response, keeping the others. */
export function setCookie(res: Response, config: Pick<Config, "env">, name: string, value: string, lifetimeMs?: number) {
  res.append("Set-Cookie", setCookieLine(config, name, value, lifetimeMs));
}

/** The Set-Cookie line that tells the browser to forget a cookie. */
export function clearCookieLine(config: Pick<Config, "env">, name: string): string {
  return serialize(name, "", { ...cookieAttributes(config), expires: new Date(0) });
}

/** Tells the browser to forget a cookie. */
export function clearCookie(res: Response, config: Pick<Config, "env">, name: string) {
  res.append("Set-Cookie", clearCookieLine(config, name));
}

const parsed = new WeakMap<Request, Record<string, string | undefined>>();

/** The cookies this request sent, by name: the header is parsed once per request. */
export function requestCookies(req: Request): Record<string, string | undefined> {
  let cookies = parsed.get(req);
  if (!cookies) {
    cookies = req.headers.cookie ? parse(req.headers.cookie) : {};
    parsed.set(req, cookies);
  }
  return cookies;
}

export function readCookie(req: Request, name: string): string | undefined {
  return req.headers.cookie?.includes(name) ? requestCookies(req)[name] : undefined;
}
