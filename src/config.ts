// Configuration: parsed once from an environment object with a zod schema into a
// frozen, typed object. Pure: no process.env, no files, no exit. `server.ts` decides
// what to do with a ConfigError, and supplies the development secret.
import { availableParallelism } from "node:os";
import path from "node:path";
import { z } from "zod";

export type NodeEnv = "development" | "production" | "test";
export type SessionStoreKind = "file" | "memory" | "redis";
export type TrustProxy = boolean | number | string;

export interface Config {
  readonly env: NodeEnv;
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly trustProxy: TrustProxy;
  /** First one signs, every one verifies (rotation). */
  readonly sessionSecrets: readonly string[];
  readonly sessionStore: SessionStoreKind;
  readonly sessionDir: string;
  /** The SQLite file, when there is no databaseUrl. */
  readonly databasePath: string;
  /** postgres://…: users and the log-in index in PostgreSQL instead of SQLite. */
  readonly databaseUrl: string | undefined;
  /** The most connections this instance opens to PostgreSQL. */
  readonly databasePoolSize: number;
  readonly sessionIdleTimeoutMs: number;
  /** Counted from log-in: after it, even an active user logs in again. */
  readonly sessionAbsoluteTimeoutMs: number;
  /** "Remember me": the cookie's Max-Age, and that session's idle and absolute timeouts. */
  readonly rememberMeMs: number;
  /** Failed log-ins plus sign-ups allowed per client address per window; undefined = off. */
  readonly authRateLimit: RateLimit | undefined;
  /** New sessions without a log-in stored per client address per window; undefined = off. */
  readonly sessionCreateLimit: RateLimit | undefined;
  /** For SESSION_STORE=redis. */
  readonly redisUrl: string;
  /** Every key this app writes in Redis starts with it. */
  readonly redisPrefix: string;
  /** How long a request waits for its session's lock before a 503. */
  readonly sessionLockTimeoutMs: number;
  /** How often expired sessions are removed (file and memory stores). */
  readonly sessionSweepIntervalMs: number;
  /** Server processes on the one port: 1 is no cluster, more run `node:cluster` workers. */
  readonly webConcurrency: number;
}

export interface RateLimit {
  readonly points: number;
  readonly windowMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

const UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "30m", "12h", "7d" → milliseconds; anything else → undefined. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,9})([smhd])$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS_MS[match[2] as keyof typeof UNITS_MS];
  return ms > 0 ? ms : undefined;
}

const MIN_PRODUCTION_SECRET = 32;

const duration = (example: string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `must be a positive whole number followed by s, m, h or d (for example ${example})`,
      });
      return z.NEVER;
    }
    return ms;
  });

function parseRateLimit(text: string, ctx: z.RefinementCtx): RateLimit | undefined {
  const value = text.trim().toLowerCase();
  if (value === "off") return undefined;
  const match = /^(\d{1,6})\/(.+)$/.exec(value);
  const windowMs = match ? parseDuration(match[2]!) : undefined;
  if (!match || windowMs === undefined || Number(match[1]) < 1) {
    ctx.addIssue({ code: "custom", message: "must be a count per duration (for example 30/15m) or off" });
    return z.NEVER;
  }
  return { points: Number(match[1]), windowMs };
}

/** Not `.default()`: zod applies it to an "off" (undefined) result too. */
const rateLimit = (byDefault: RateLimit) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => (text === undefined ? byDefault : parseRateLimit(text, ctx)));

const redisUrl = z
  .string()
  .refine((text) => /^rediss?:\/\/[^\s]+$/.test(text.trim()), "must be a redis:// or rediss:// URL")
  .default("redis://127.0.0.1:6379");

/** postgres:// or postgresql://, with a host (or ?host= for a socket folder); never echoed: it holds a password. */
const databaseUrl = z
  .string()
  .refine((text) => {
    try {
      const url = new URL(text.trim());
      return /^postgres(ql)?:$/.test(url.protocol) && (url.hostname !== "" || url.searchParams.has("host"));
    } catch {
      return false;
    }
  }, "must be a postgres:// or postgresql:// URL (for example postgres://handstamp:PASSWORD@db.internal:5432/handstamp)")
  .optional();

const trustProxy = z.string().transform((text): TrustProxy => {
  const value = text.trim().toLowerCase();
  if (["", "off", "false", "no"].includes(value)) return false;
  if (["on", "true", "yes"].includes(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  return text.trim(); // "loopback", an address or a subnet list: handed to Express as is
});

const MAX_WORKERS = 256;
const WORKERS_PROBLEM = `must be a whole number of server processes from 1 to ${MAX_WORKERS}, or auto (one per core)`;

/** "auto" stays a word here: the number of cores is asked for in parseConfig, where it can be given. */
const webConcurrency = z.string().transform((text, ctx): number | "auto" => {
  const value = text.trim().toLowerCase();
  if (value === "auto") return "auto";
  if (/^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_WORKERS) return Number(value);
  ctx.addIssue({ code: "custom", message: WORKERS_PROBLEM });
  return z.NEVER;
});

const schema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], {
      error: "must be development, production or test",
    })
    .default("development"),
  PORT: z.coerce
    .number({ error: "must be a port number from 0 to 65535" })
    .int("must be a port number from 0 to 65535")
    .min(0, "must be a port number from 0 to 65535")
    .max(65535, "must be a port number from 0 to 65535")
    .default(3000),
  HOST: z.string().min(1, "must not be empty").default("localhost"),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      error: "must be one of fatal, error, warn, info, debug, trace, silent",
    })
    .default("info"),
  TRUST_PROXY: trustProxy.default(false),
  SESSION_STORE: z
    .enum(["file", "memory", "redis"], { error: "must be file, memory or redis" })
    .default("file"),
  SESSION_DIR: z.string().min(1, "must not be empty").default("./sessions"),
  DATABASE_PATH: z.string().min(1, "must not be empty").default("./data/handstamp.db"),
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_SIZE: z.coerce
    .number({ error: "must be a whole number of connections from 1 to 100" })
    .int("must be a whole number of connections from 1 to 100")
    .min(1, "must be a whole number of connections from 1 to 100")
    .max(100, "must be a whole number of connections from 1 to 100")
    .default(10),
  SESSION_IDLE_TIMEOUT: duration("30m").default(30 * UNITS_MS.m),
  SESSION_LOCK_TIMEOUT: duration("10s").default(10 * UNITS_MS.s),
  SESSION_SWEEP_INTERVAL: duration("5m").default(5 * UNITS_MS.m),
  SESSION_ABSOLUTE_TIMEOUT: duration("12h").default(12 * UNITS_MS.h),
  REMEMBER_ME_DURATION: duration("30d").default(30 * UNITS_MS.d),
  AUTH_RATE_LIMIT: rateLimit({ points: 30, windowMs: 15 * UNITS_MS.m }),
  SESSION_CREATE_LIMIT: rateLimit({ points: 60, windowMs: UNITS_MS.m }),
  REDIS_URL: redisUrl,
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, "must be 1 to 64 letters, digits or : _ . -")
    .default("handstamp:"),
  WEB_CONCURRENCY: webConcurrency.default(1),
});

export interface ParseOptions {
  /** Where relative paths start from (the working directory in `server.ts`). */
  cwd?: string;
  /**
   * Called outside production when SESSION_SECRET is missing, with the data folder:
   * returns a secret kept across restarts. Without it, a missing secret is an error.
   */
  devSecret?: (dataDir: string) => string;
  /**
   * false for commands that sign nothing (`npm run sessions`): SESSION_SECRET is then
   * neither required nor checked, and `sessionSecrets` is what was given, maybe nothing.
   */
  needsSecret?: boolean;
  /** How many cores WEB_CONCURRENCY=auto means; this machine's by default. */
  cores?: () => number;
}

type Env = Record<string, string | undefined>;

/** Blank values count as unset, as in most .env tooling. */
function withoutBlanks(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
}

export function parseConfig(env: Env, options: ParseOptions = {}): Config {
  const given = withoutBlanks(env);
  const parsed = schema.safeParse(given);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  const production = given.NODE_ENV === "production";
  const secrets = (given.SESSION_SECRET ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const cwd = options.cwd ?? process.cwd();
  const databasePath = path.resolve(cwd, given.DATABASE_PATH ?? "./data/handstamp.db");

  // With "on", Express believes the left-most X-Forwarded-For entry, which the client
  // writes: every visitor could pick the address the per-address limits count.
  if (production && parsed.success && parsed.data.TRUST_PROXY === true) {
    problems.push(
      `TRUST_PROXY: "${given.TRUST_PROXY}" trusts every proxy, so any client can choose its address; in production name your proxy instead: loopback (nginx on the same machine), a hop count such as 1, or the proxy's addresses`,
    );
  }
  // Instances that share Redis and PostgreSQL must sign with one secret, and keep nothing
  // on disk: a development secret (a file, or one in memory) would be each instance's own.
  const sharesNothing = given.SESSION_STORE === "redis" && given.DATABASE_URL !== undefined;
  const needsSecret = options.needsSecret ?? true;
  if (needsSecret && secrets.length === 0 && (production || !options.devSecret)) {
    problems.push("SESSION_SECRET: is required in production (generate one with `npm run secret`)");
  } else if (needsSecret && secrets.length === 0 && sharesNothing) {
    problems.push(
      "SESSION_SECRET: is required with SESSION_STORE=redis and DATABASE_URL, where every instance must sign with the same secret (generate one with `npm run secret`)",
    );
  } else if (needsSecret && production && secrets.some((s) => s.length < MIN_PRODUCTION_SECRET)) {
    problems.push(
      `SESSION_SECRET: every secret must be at least ${MIN_PRODUCTION_SECRET} characters in production (generate one with \`npm run secret\`)`,
    );
  }
  const workers = parsed.success
    ? parsed.data.WEB_CONCURRENCY === "auto"
      ? (options.cores ?? availableParallelism)()
      : parsed.data.WEB_CONCURRENCY
    : 1;
  // Each worker is its own process, with its own memory: a session would exist in one of
  // them only, and a visitor's next request would land in another.
  if (parsed.success && workers > 1 && parsed.data.SESSION_STORE === "memory") {
    problems.push(
      `WEB_CONCURRENCY: ${workers} server processes cannot share the memory store (each would see only its own sessions): use SESSION_STORE=file or redis, or WEB_CONCURRENCY=1`,
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);

  const values = parsed.data;
  if (needsSecret && secrets.length === 0 && options.devSecret) {
    secrets.push(options.devSecret(path.dirname(databasePath)));
  }
  return Object.freeze({
    env: values.NODE_ENV,
    port: values.PORT,
    host: values.HOST,
    logLevel: values.LOG_LEVEL,
    trustProxy: values.TRUST_PROXY,
    sessionSecrets: Object.freeze(secrets),
    sessionStore: values.SESSION_STORE,
    sessionDir: path.resolve(cwd, values.SESSION_DIR),
    databasePath,
    databaseUrl: values.DATABASE_URL?.trim(),
    databasePoolSize: values.DATABASE_POOL_SIZE,
    sessionIdleTimeoutMs: values.SESSION_IDLE_TIMEOUT,
    sessionLockTimeoutMs: values.SESSION_LOCK_TIMEOUT,
    sessionSweepIntervalMs: values.SESSION_SWEEP_INTERVAL,
    sessionAbsoluteTimeoutMs: values.SESSION_ABSOLUTE_TIMEOUT,
    rememberMeMs: values.REMEMBER_ME_DURATION,
    authRateLimit: values.AUTH_RATE_LIMIT,
    sessionCreateLimit: values.SESSION_CREATE_LIMIT,
    redisUrl: values.REDIS_URL.trim(),
    redisPrefix: values.REDIS_PREFIX,
    webConcurrency: workers,
  });
}
