// How long a session lives. Three clocks, all enforced on the server:
// - idle: a session unused for SESSION_IDLE_TIMEOUT is gone (the store's expiry, pushed
//   forward by every request);
// - absolute: SESSION_ABSOLUTE_TIMEOUT after log-in the user logs in again, however active;
// - remember-me: the cookie gets a Max-Age of REMEMBER_ME_DURATION and the session uses
//   that length for both clocks above (otherwise "remember me" could not outlast 12 hours).
import type { SessionData } from "express-session";
import type { Config } from "../config";

/** Written into the session at log-in. */
export interface LoginRecord {
  /** When the user logged in (ms). */
  at: number;
  /** The absolute deadline (ms). */
  until: number;
  remember: boolean;
}

export type LifetimeConfig = Pick<Config, "sessionIdleTimeoutMs" | "sessionAbsoluteTimeoutMs" | "rememberMeMs">;

export function loginRecord(config: LifetimeConfig, now: number, remember: boolean): LoginRecord {
  return { at: now, until: now + (remember ? config.rememberMeMs : config.sessionAbsoluteTimeoutMs), remember };
}

/** The idle timeout of this session. */
export function idleTimeoutMs(config: LifetimeConfig, data: Partial<SessionData>): number {
  return data.login?.remember ? config.rememberMeMs : config.sessionIdleTimeoutMs;
}

/** How long the session lives after an access at `now`: its idle timeout, capped by the absolute deadline. */
export function ttlMs(config: LifetimeConfig, data: Partial<SessionData>, now: number): number {
  const idle = idleTimeoutMs(config, data);
  return data.login ? Math.max(0, Math.min(idle, data.login.until - now)) : idle;
}

export function isPastAbsoluteDeadline(data: Partial<SessionData>, now: number): boolean {
  return data.login !== undefined && now >= data.login.until;
}
