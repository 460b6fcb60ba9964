// The response headers that never depend on the request, computed once at start and set
// with one loop per response: the security headers of every page and file, and no-store
// for the pages. The security set is helmet 8's defaults with our Content-Security-Policy,
// written out so it can be read here; test/headers.test.ts checks it against what helmet
// sends, so a header helmet adds in a new version shows up there.
import type { NextFunction, Request, RequestHandler, Response } from "express";

export type HeaderList = readonly (readonly [name: string, value: string])[];

/** Our pages and files come from this site only; nothing inline, nothing framed. */
export function contentSecurityPolicy(production: boolean): string {
  return [
    "default-src 'self'",
    "base-uri 'none'",
    "font-src 'self' https: data:",
    "form-action 'self'",
    // Clickjacking: no other site may frame ours (X-Frame-Options below, for older browsers).
    "frame-ancestors 'none'",
    "img-src 'self' data:",
    "object-src 'none'",
    "script-src 'self'",
    "script-src-attr 'none'",
    "style-src 'self'",
    // Over plain http (development) it would send the browser to an https that is not there.
    ...(production ? ["upgrade-insecure-requests"] : []),
  ].join(";");
}

/** The security headers of every response, production's or development's. */
export function securityHeaderList(production: boolean): HeaderList {
  return Object.freeze([
    ["Content-Security-Policy", contentSecurityPolicy(production)],
    ["Cross-Origin-Opener-Policy", "same-origin"],
    ["Cross-Origin-Resource-Policy", "same-origin"],
    ["Origin-Agent-Cluster", "?1"],
    ["Referrer-Policy", "no-referrer"],
    // Over plain http (development) a browser would ignore it, or worse, remember it for localhost.
    ...(production ? [["Strict-Transport-Security", "max-age=31536000; includeSubDomains"] as const] : []),
    ["X-Content-Type-Options", "nosniff"],
    ["X-DNS-Prefetch-Control", "off"],
    ["X-Download-Options", "noopen"],
    ["X-Frame-Options", "SAMEORIGIN"],
    ["X-Permitted-Cross-Domain-Policies", "none"],
    // The old XSS auditors did more harm than good: "0" turns them off.
    ["X-XSS-Protection", "0"],
  ] as const);
}

function setHeaders(headers: HeaderList): RequestHandler {
  return function setFixedHeaders(_req: Request, res: Response, next: NextFunction) {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

/** The security headers of every page and file. Also used by the bench. */
export function securityHeaders(production: boolean): RequestHandler {
  return setHeaders(securityHeaderList(production));
}

/**
 * Pages depend on the session: never cache them, never share them across cookies.
 * (Express's res.vary would read and merge any Vary already set: nothing sets one before.)
 */
export const noStore: RequestHandler = setHeaders(
  Object.freeze([
    ["Cache-Control", "no-store"],
    ["Vary", "Cookie"],
  ] as const),
);
