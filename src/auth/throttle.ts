// Log-in throttling, as the OWASP Authentication cheat sheet asks, with rate-limiter-flexible:
// - per account: after 5 failed log-ins within 15 minutes, that account's log-ins are
//   refused for a delay that doubles at each new lock (1, 2, 4, 8, then 15 minutes at
//   most), whatever the password, so guessing stays slow. Names that match no account are
//   counted the same way, so the answers never tell which names exist;
// - a browser that has logged in to the account before carries a signed "known device"
//   cookie and is not held by that lock (only by its own failures), so an attacker
//   cannot keep the real user out by failing on purpose;
// - per client address: failed log-ins plus sign-ups beyond AUTH_RATE_LIMIT get a 429.
// The limiters are built by a factory, so the Redis store can share them across instances.
import { RateLimiterMemory, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { RateLimit } from "../config";
import { SessionStoreUnavailable } from "../sessions/errors";

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

export interface Throttle {
  /** Seconds until this account may try again (from this browser), or 0. */
  accountWait(username: string, knownDevice: boolean): Promise<number>;
  /** Seconds until this address may try again, or 0. */
  addressWait(address: string): Promise<number>;
  failedLogIn(username: string, knownDevice: boolean, address: string): Promise<void>;
  succeededLogIn(username: string): Promise<void>;
  signUpAttempt(address: string): Promise<void>;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
/** Names are unique whatever their case; a huge name is cut, not stored whole. */
const accountKey = (username: string, knownDevice: boolean) =>
  `${username.toLowerCase().slice(0, 64)}${knownDevice ? "|device" : ""}`;
const isRejection = (err: unknown) => typeof err === "object" && err !== null && "msBeforeNext" in err;

export function createThrottle(
  perAddress: RateLimit | undefined,
  makeLimiter: LimiterFactory = memoryLimiters,
  rules: AccountRules = ACCOUNT_RULES,
): Throttle {
  const failures = makeLimiter({
    keyPrefix: "login-fail",
    points: rules.failures,
    duration: seconds(rules.windowMs),
  });
  const lockouts = makeLimiter({
    keyPrefix: "login-lockouts",
    points: 1_000_000,
    duration: LOCKOUT_MEMORY_S,
  });
  const address = perAddress
    ? makeLimiter({
        keyPrefix: "auth-address",
        points: perAddress.points,
        duration: seconds(perAddress.windowMs),
      })
    : undefined;

  async function waitOn(limiter: RateLimiterAbstract, key: string, points: number): Promise<number> {
    const state = await limiter.get(key);
    return state && state.consumedPoints >= points ? seconds(state.msBeforeNext) : 0;
  }

  async function spend(limiter: RateLimiterAbstract, key: string) {
    try {
      return await limiter.consume(key);
    } catch (err) {
      if (isRejection(err)) return undefined; // already over: nothing more to count
      throw err;
    }
  }

  const throttle: Throttle = {
    accountWait: (username, knownDevice) =>
      waitOn(failures, accountKey(username, knownDevice), rules.failures),
    addressWait: async (ip) => (address ? waitOn(address, ip, address.points) : 0),
    async failedLogIn(username, knownDevice, ip) {
      const key = accountKey(username, knownDevice);
      const counted = await spend(failures, key);
      if (counted && counted.consumedPoints >= rules.failures) {
        const lockout = await lockouts.penalty(key);
        await failures.block(key, seconds(lockoutDelayMs(lockout.consumedPoints, rules)));
      }
      if (address) await spend(address, ip);
    },
    async succeededLogIn(username) {
      await Promise.all([
        failures.delete(accountKey(username, false)),
        lockouts.delete(accountKey(username, false)),
      ]);
      await Promise.all([
        failures.delete(accountKey(username, true)),
        lockouts.delete(accountKey(username, true)),
      ]);
    },
    async signUpAttempt(ip) {
      if (address) await spend(address, ip);
    },
  };
  // Where the counts live (Redis) may be down: that is a 503 like any store outage, not a 500.
  return Object.fromEntries(
    Object.entries(throttle).map(([name, method]) => [
      name,
      (...args: never[]) =>
        (method as (...a: never[]) => Promise<unknown>)(...args).catch((err: unknown) => {
          throw err instanceof SessionStoreUnavailable
            ? err
            : new SessionStoreUnavailable(`throttle ${name}`, err);
        }),
    ]),
  ) as unknown as Throttle;
}
