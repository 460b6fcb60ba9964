// GET /session: the session inspector. It shows visitors their own session as the server
// sees it: the cookie their browser sent, the record behind it, what is stored in it,
// its clocks, every cookie of the site it holds, and the Cookie and Set-Cookie headers of
// this very request. Mounted on /session.
import { parse as parseCookies } from "cookie";
import { Router, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Config } from "../config";
import { shortId } from "../sessions/ids";
import { idleTimeoutMs, ttlMs } from "../sessions/lifetime";
import { cookieName, sessionCookieName, sessionCookieOptions } from "../sessions/middleware";
import type { SessionStorage } from "../sessions/storage";

export interface InspectorDeps {
  config: Config;
  storage: SessionStorage;
  now: () => number;
  logger: Logger;
}

/** "name=abcdefgh…" for every cookie: enough to recognise, too little to reuse. */
export function shortenCookies(header: string, separator = "; "): string {
  return header
    .split(separator)
    .map((pair) => {
      const at = pair.indexOf("=");
      if (at < 0) return pair;
      const value = pair.slice(at + 1);
      return `${pair.slice(0, at)}=${value.length > 10 ? `${value.slice(0, 10)}…` : value}`;
    })
    .join(separator);
}

/** Each Set-Cookie header with its value shortened and its attributes kept. */
function shortenSetCookie(header: unknown): string[] {
  const all = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
  return all.map((line: string) => {
    const [pair, ...attributes] = line.split("; ");
    return [shortenCookies(pair ?? ""), ...attributes].join("; ");
  });
}

/**
 * Every cookie the site sets, by the base of its name (cookieName() adds `__Host-` in
 * production); views/session.njk explains each. `csrf` belongs to the CSRF defence.
 */
const SITE_COOKIES = ["sid", "device", "flash", "csrf"] as const;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1_000, "second"],
  ];
  const [size, name] = units.find(([size]) => ms >= size && ms % size === 0) ?? [1_000, "second"];
  const count = Math.round(ms / size);
  return `${count} ${name}${count === 1 ? "" : "s"}`;
}

export function inspectorRouter({ config, storage, now, logger }: InspectorDeps): Router {
  const router = Router();
  const sidName = sessionCookieName(config);
  const cookieOptions = sessionCookieOptions(config);
  const siteCookies = SITE_COOKIES.map((base) => ({ base, name: cookieName(config, base) }));

  router.get("/", async function inspectSession(req: Request, res: Response) {
    const at = now();
    const stored = req.cookieSessionId !== undefined && req.cookieSessionId === req.sessionID;
    const record = stored ? await storage.describe(req.sessionID).catch(() => undefined) : undefined;
    const { cookie, ...data } = req.session;
    const shownData = JSON.stringify(
      { ...data, ...(data.csrfToken ? { csrfToken: "(hidden)" } : {}), cookie },
      null,
      2,
    );
    const remember = data.login?.remember === true;
    const sentCookies = Object.keys(req.headers.cookie ? parseCookies(req.headers.cookie) : {});
    const locals = {
      cookie: {
        name: sidName,
        sent: sentCookies.includes(sidName),
        id: req.cookieSessionId ? `${shortId(req.cookieSessionId)}…` : undefined,
        stored,
        hostPrefix: sidName.startsWith("__Host-"),
        secure: cookieOptions.secure,
        sameSite: cookieOptions.sameSite,
        maxAge: remember ? duration(config.rememberMeMs) : undefined,
      },
      rememberFor: duration(config.rememberMeMs),
      cookies: siteCookies.map((c) => ({ ...c, sent: sentCookies.includes(c.name) })),
      otherCookies: sentCookies.filter((name) => !siteCookies.some((c) => c.name === name)),
      record: record && {
        kind: storage.kind,
        // The whole id never goes into a page: scripts can read pages, not HttpOnly cookies.
        // The file's name within SESSION_DIR, or the Redis key: never a path on the server.
        location: record.location.replace(req.sessionID, `${shortId(req.sessionID)}…`),
        sizeBytes: record.sizeBytes,
        modifiedAt: iso(record.modifiedAt),
        expiresAt: iso(record.expiresAt),
      },
      storeKind: storage.kind,
      data: shownData,
      hasData: Object.keys(data).length > 0,
      clocks: {
        createdAt: iso(data.createdAt),
        now: iso(at),
        idle: duration(idleTimeoutMs(config, data)),
        idleExpiry: iso(at + ttlMs(config, data, at)),
        absolute: data.login
          ? duration(data.login.until - data.login.at)
          : duration(config.sessionAbsoluteTimeoutMs),
        absoluteExpiry: iso(data.login?.until),
        loggedIn: data.login !== undefined,
      },
      requestCookie: req.headers.cookie ? shortenCookies(req.headers.cookie) : undefined,
    };
    // The page shows this response's own Set-Cookie headers, which the session layer adds
    // when the headers go out: so they go out first (messages taken, nothing else to
    // change), and the page is rendered and streamed after them.
    const flashes = res.locals.takeFlashes();
    res.locals.takeFlashes = () => flashes;
    res.status(200).type("html");
    res.flushHeaders();
    const setCookie = shortenSetCookie(res.getHeader("Set-Cookie"));
    req.app.render("session", { ...res.locals, ...locals, setCookie }, (err, html) => {
      if (err) {
        logger.error({ err, url: req.originalUrl }, "could not render the session inspector");
        res.end("<p>The inspector could not be shown.</p>");
        return;
      }
      res.end(html);
    });
  });

  return router;
}
