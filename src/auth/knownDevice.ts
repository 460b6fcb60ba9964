// The "known device" cookie (OWASP: device cookies against lock-out): after a successful
// log-in the browser keeps a keyed hash of the account's name (not the name itself), so
// that account's lock after repeated failures (somebody else guessing) does not keep this
// browser out. One account per browser: the last one logged in to.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Request, Response } from "express";
import type { Config } from "../config";
import { cookieName, readCookie, setCookie } from "../sessions/cookies";

const MAX_AGE_MS = 365 * 86_400_000;

export function knownDeviceCookie(config: Config) {
  const name = cookieName(config, "device");
  const mark = (secret: string, username: string) =>
    createHmac("sha256", secret).update(`known-device:${username.toLowerCase()}`).digest("base64url");
  return {
    /** Whether this browser has logged in to this account before. */
    isKnown(req: Request, username: string): boolean {
      const value = readCookie(req, name);
      if (!value) return false;
      const given = Buffer.from(value);
      return config.sessionSecrets.some((secret) => {
        const expected = Buffer.from(mark(secret, username));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
    remember(res: Response, username: string): void {
      setCookie(res, config, name, mark(config.sessionSecrets[0]!, username), MAX_AGE_MS);
    },
  };
}
