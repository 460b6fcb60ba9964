// GET /session: the session inspector. It shows visitors their own session as the server
// sees it: the cookie their browser sent, the record behind it, what is stored in it,
// its clocks, every cookie of the site it holds, and the Cookie and Set-Cookie headers of
// this very request. Mounted on /session.
import { Router, type Request, type Response } from "express";
import type { Config } from "../config";
import { shortId } from "../sessions/ids";
import { idleTimeoutMs, ttlMs } from "../sessions/lifetime";
import { cookieAttributes, cookieName, requestCookies, SITE_COOKIES } from "../sessions/cookies";
import { hasStoredSession, plannedSessionCookie } from "../sessions/sessionLayer";
import type { SessionStorage } from "../sessions/storage";

export interface InspectorDeps {
  config: Config;
  storage: SessionStorage;
  now: () => number;
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

function setCookieLines(header: unknown): string[] {
  return header === undefined ? [] : Array.isArray(header) ? header.map(String) : [String(header)];
}

/** Each Set-Cookie header with its value shortened and its attributes kept. */
function shortenSetCookie(lines: string[]): string[] {
  return lines.map((line: string) => {
    const [pair, ...attributes] = line.split("; ");
    return [shortenCookies(pair ?? ""), ...attributes].join("; ");
  });
}

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

export function inspectorRouter({ config, storage, now }: InspectorDeps): Router {
  const router = Router();
  const sidName = cookieName(config, "sid");
  const cookieOptions = cookieAttributes(config);
  const siteCookies = SITE_COOKIES.map((base) => ({ base, name: cookieName(config, base) }));

  router.get("/", async function inspectSession(req: Request, res: Response) {
    const at = now();
    const stored = hasStoredSession(req);
    const record = stored ? await storage.store.describe(req.sessionID).catch(() => undefined) : undefined;
    const { cookie, ...data } = req.session;
    const shownData = JSON.stringify(
      { ...data, ...(data.csrfToken ? { csrfToken: "(hidden)" } : {}), cookie },
      null,
      2,
    );
    const remember = data.login?.remember === true;
    const sentCookies = Object.keys(requestCookies(req));
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
    // The page shows this response's own Set-Cookie headers: the messages are taken first
    // (clearing the flash cookie, changing the session), then the session layer says which
    // session cookie it will send with the page.
    const flashes = res.locals.takeFlashes();
    res.locals.takeFlashes = () => flashes;
    const session = plannedSessionCookie(req);
    const setCookie = shortenSetCookie([
      ...setCookieLines(res.getHeader("Set-Cookie")),
      ...(session ? [session] : []),
    ]);
    res.render("session", { ...locals, setCookie });
  });

  return router;
}
