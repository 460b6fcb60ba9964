// The "known device" cookie (OWASP: device cookies against lock-out): after a successful
// log-in the browser keeps a signed note of the account, so that account's lock after
// repeated failures (somebody else guessing) does not keep this browser out.
import { parse as parseCookies } from "cookie";
import { sign, unsign } from "cookie-signature";
import type { Request, Response } from "express";
import type { Config } from "../config";

const MAX_AGE_MS = 365 * 86_400_000;

export function knownDeviceCookie(config: Config) {
  const name = config.env === "production" ? "__Host-device" : "device";
  const options = {
    httpOnly: true,
    sameSite: "lax" as const,
    secure: config.env === "production",
    path: "/",
    maxAge: MAX_AGE_MS,
  };
  const account = (username: string) => username.toLowerCase();
  return {
    /** Whether this browser has logged in to this account before. */
    isKnown(req: Request, username: string): boolean {
      const value = req.headers.cookie?.includes(name) ? parseCookies(req.headers.cookie)[name] : undefined;
      if (!value) return false;
      return config.sessionSecrets.some((secret) => unsign(value, secret) === account(username));
    },
    remember(res: Response, username: string): void {
      res.cookie(name, sign(account(username), config.sessionSecrets[0]!), options);
    },
  };
}
