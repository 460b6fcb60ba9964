// Log-in throttling, as the OWASP Authentication cheat sheet asks, with rate-limiter-flexible:
// - per account: after 5 wrong passwords within 15 minutes (at log-in and at a password
//   change, counted together), that account is refused for a delay that doubles at each
//   new lock (1, 2, 4, 8, then 15 minutes at most), whatever the password, so guessing
//   stays slow. Valid names that match no account are counted the same way, so the answers
//   never tell which names exist; names the username rule forbids are never counted;
// - browsers that have logged in to the account before carry a signed "known device"
//   cookie and have a budget of their own, which failures from other browsers cannot
//   spend, so an attacker cannot keep the real user out by failing on purpose;
// - per client address: failed log-ins plus sign-ups beyond AUTH_RATE_LIMIT get a 429.
// The limiters are built by a factory, so the Redis store can share them across instances.
import { RateLimiterMemory, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { RateLimit } from "../config";
import { ServiceUnavailable } from "../http/errors";
import { LimiterUnavailable } from "../sessions/errors";
import { usernameProblem } from "./validation";

export interface AccountRules {
  failures: number;
  windowMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const ACCOUNT_RULES: AccountRules = {
  failures: 5,
  windowMs: 15 * 60_000,
  firstDelayMs: 60_000,
  maxDelayMs: 15 * 60_000,
};

/** How lockouts of one account are remembered, to make the next one longer. */
const LOCKOUT_MEMORY_S = 24 * 3600;

export type LimiterFactory = (options: {
  keyPrefix: string;
  points: number;
  duration: number;
}) => RateLimiterAbstract;

export const memoryLimiters: LimiterFactory = (options) => new RateLimiterMemory(options);

/** The delay of the n-th lockout (n from 1). */
export function lockoutDelayMs(n: number, rules: AccountRules = ACCOUNT_RULES): number {
  return Math.min(rules.firstDelayMs * 2 ** Math.max(0, n - 1), rules.maxDelayMs);
}

// Each try takes its count before the password is checked, and gives it back if it was
// right: requests sent in parallel cannot all pass a check made before any of them counted.
export interface Throttle {
  /** Takes a try from this account's budget (this browser's): 0, or the seconds to wait (none left). */
  tryAccount(username: string, knownDevice: boolean): Promise<number>;
  /** Takes a try from this address's budget (log-ins plus sign-ups): 0, or the seconds to wait. */
  tryAddress(address: string): Promise<number>;
  /** The try was a wrong password (log-in or password change): the last one of the budget locks the account. */
  wrongPassword(username: string, knownDevice: boolean): Promise<void>;
  /** The right password: the account's counts start again, and a log-in's address gets its try back. */
  rightPassword(username: string, address?: string): Promise<void>;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
/**
 * Names are unique whatever their case. A name that breaks the username rule cannot be an
 * account: it gets no key, so no such name can spend (or lock) a real account's budget.
 */
const accountKey = (username: string) =>
  usernameProblem(username) === undefined ? username.toLowerCase() : undefined;
/** A limiter's "no more tries" (rate-limiter-flexible rejects with its state), as opposed to a failure. */
export const isLimiterRefusal = (err: unknown): err is { msBeforeNext: number } =>
  typeof err === "object" && err !== null && "msBeforeNext" in err;

/** Turns a failure of where the counts live (Redis down) into a 503, like any store outage. */
function guarded<A extends unknown[], R>(name: string, method: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    try {
      return await method(...args);
    } catch (err) {
      throw err instanceof ServiceUnavailable ? err : new LimiterUnavailable(`throttle ${name}`, err);
    }
  };
}

export function createThrottle(
  perAddress: RateLimit | undefined,
  makeLimiter: LimiterFactory = memoryLimiters,
  rules: AccountRules = ACCOUNT_RULES,
): Throttle {
  // One budget for the browsers that logged in to the account before, one for all the
  // others. Each limiter has its own key prefix: the budgets never share a key, whatever
  // the name.
  const budget = (device: string) => ({
    failures: makeLimiter({
      keyPrefix: `login-fail-${device}`,
      points: rules.failures,
      duration: seconds(rules.windowMs),
    }),
    lockouts: makeLimiter({
      keyPrefix: `login-lockouts-${device}`,
      points: 1_000_000,
      duration: LOCKOUT_MEMORY_S,
    }),
  });
  const budgets = { known: budget("known-device"), other: budget("other-device") };
  const budgetOf = (knownDevice: boolean) => (knownDevice ? budgets.known : budgets.other);
  const address = perAddress
    ? makeLimiter({
        keyPrefix: "auth-address",
        points: perAddress.points,
        duration: seconds(perAddress.windowMs),
      })
    : undefined;

  /** 0 once a try is counted, or the seconds until the budget allows one again. */
  async function take(limiter: RateLimiterAbstract, key: string): Promise<number> {
    try {
      await limiter.consume(key);
      return 0;
    } catch (err) {
      if (isLimiterRefusal(err)) return seconds(err.msBeforeNext);
      throw err;
    }
  }

  return {
    tryAccount: guarded("tryAccount", async (username: string, knownDevice: boolean) => {
      const key = accountKey(username);
      return key === undefined ? 0 : take(budgetOf(knownDevice).failures, key);
    }),
    tryAddress: guarded("tryAddress", async (ip: string) => (address ? take(address, ip) : 0)),
    wrongPassword: guarded("wrongPassword", async (username: string, knownDevice: boolean) => {
      const key = accountKey(username);
      if (key === undefined) return;
      const { failures, lockouts } = budgetOf(knownDevice);
      const counted = await failures.get(key);
      if (counted && counted.consumedPoints >= rules.failures) {
        const lockout = await lockouts.penalty(key);
        await failures.block(key, seconds(lockoutDelayMs(lockout.consumedPoints, rules)));
      }
    }),
    rightPassword: guarded("rightPassword", async (username: string, ip?: string) => {
      const key = accountKey(username);
      await Promise.all([
        ...(key === undefined
          ? []
          : [budgets.known, budgets.other].flatMap(({ failures, lockouts }) => [
              failures.delete(key),
              lockouts.delete(key),
            ])),
        ...(address && ip !== undefined ? [address.reward(ip, 1)] : []),
      ]);
    }),
  };
}
