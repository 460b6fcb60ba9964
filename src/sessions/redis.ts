// Sessions in Redis (SESSION_STORE=redis), for more than one process or machine, written
// directly on the `redis` client (GET, SET PX, PEXPIRE, DEL, SCAN): strict ids, the same
// lifetimes (as key TTLs), the per-session lock (SET NX PX, released only by its owner),
// and the log-in throttle's limiters.
//
// When Redis goes away nothing hangs and nothing crashes: commands are not queued while
// disconnected, a request waits at most READY_WAIT_MS for the connection and at most
// COMMAND_TIMEOUT_MS for an answer, and then gets a 503 page with Retry-After. The client
// reconnects on its own, and service resumes as soon as Redis answers again.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { SessionData } from "express-session";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { isLimiterRefusal } from "../auth/throttle";
import { createClient } from "redis";
import type { Config } from "../config";
import { SessionStoreUnavailable } from "./errors";
import { isSessionId } from "./ids";
import { stringifySession, type SessionStore, type StoredSession } from "./store";
import { isAlive, KeyedMutex, LOCK_HOLD_MS, SessionBusy, type Release, type SessionLocks } from "./lock";
import type { SessionStorage, StorageDeps } from "./storage";

/** How long a request waits for a (re)connection before its 503. */
export const READY_WAIT_MS = 1_000;
/** How long one command may take before the request gets a 503. */
export const COMMAND_TIMEOUT_MS = 3_000;
/** The limiter calls that go to Redis (src/auth/throttle.ts, src/sessions/admission.ts). */
const LIMITER_CALLS = new Set(["consume", "get", "block", "penalty", "reward", "delete"]);

/** Deletes the lock only if it still holds our token: never someone else's lock. */
const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

export function createRedisStorage(config: Config, deps: StorageDeps): SessionStorage {
  const now = deps.now ?? Date.now;
  const keys = {
    session: `${config.redisPrefix}sess:`,
    lock: `${config.redisPrefix}lock:`,
    limiter: `${config.redisPrefix}limit`,
  };
  const client = createClient({
    url: config.redisUrl,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
    },
  });
  let lost = false;
  client.on("error", (err: Error) => {
    if (lost) return; // one line per outage, not one per retry
    lost = true;
    deps.logger.error({ err, url: redactUrl(config.redisUrl) }, "redis: connection lost, reconnecting");
  });
  client.on("ready", () => {
    if (lost) deps.logger.warn({ url: redactUrl(config.redisUrl) }, "redis: connected again");
    lost = false;
  });
  let closed = false;
  const connecting = client.connect().catch(() => undefined); // retries go on in the background

  /** Runs one Redis operation for a request: waits briefly for the connection, bounds the wait. */
  async function guarded<T>(operation: string, run: () => Promise<T>): Promise<T> {
    for (let waited = 0; !client.isReady; waited += 50) {
      if (waited >= READY_WAIT_MS || closed) {
        throw new SessionStoreUnavailable(operation, new Error(`Redis at ${redactUrl(config.redisUrl)} is not reachable`));
      }
      await sleep(50);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis in ${COMMAND_TIMEOUT_MS} ms`)), COMMAND_TIMEOUT_MS);
    });
    try {
      return await Promise.race([run(), timeout]);
    } catch (err) {
      throw err instanceof SessionStoreUnavailable ? err : new SessionStoreUnavailable(operation, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The throttle's and SESSION_CREATE_LIMIT's counts, bounded like every other Redis call of a
   * request (a stalled Redis must not hang a log-in or a first visit); a limiter's refusal
   * ("no more tries") is an answer, and passes through as it is.
   */
  function guardedLimiter(limiter: RateLimiterRedis): RateLimiterRedis {
    const bounded = (name: string, method: (...args: unknown[]) => Promise<unknown>) =>
      async function (...args: unknown[]) {
        let refusal: unknown;
        const answer = await guarded(`limit ${name}`, () =>
          method.apply(limiter, args).catch((err: unknown) => {
            if (!isLimiterRefusal(err)) throw err;
            refusal = err;
          }),
        );
        if (refusal !== undefined) throw refusal;
        return answer;
      };
    return new Proxy(limiter, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof name === "string" && LIMITER_CALLS.has(name) && typeof value === "function"
          ? bounded(name, value as (...args: unknown[]) => Promise<unknown>)
          : value;
      },
    });
  }

  const sessionKey = (id: string) => keys.session + id;

  /** Sessions as JSON strings under `<prefix>sess:<id>`, each with its lifetime as the key's TTL. */
  const store: SessionStore = {
    kind: "redis",
    async get(id) {
      if (!isSessionId(id)) return undefined;
      const key = sessionKey(id);
      const [text, ttl] = await guarded("get", () => Promise.all([client.get(key), client.pTTL(key)]));
      if (!text || ttl <= 0) return undefined;
      try {
        return { data: JSON.parse(text) as SessionData, expiresAt: now() + ttl };
      } catch {
        return undefined; // not a record of ours: no session
      }
    },
    async set(id, data, ttlMs, { json, existing } = {}) {
      if (!isSessionId(id)) throw new SessionStoreUnavailable("set", new Error("refused a malformed session id"));
      const text = stringifySession(data, now(), json);
      const expiration = { type: "PX", value: Math.max(1, Math.round(ttlMs)) } as const;
      // XX: only over a key that is still there (WriteOptions.existing).
      const options = existing ? { expiration, condition: "XX" as const } : { expiration };
      return (await guarded("set", () => client.set(sessionKey(id), text, options))) !== null;
    },
    async touch(id, ttlMs) {
      if (!isSessionId(id)) return;
      await guarded("touch", () => client.pExpire(sessionKey(id), Math.max(1, Math.round(ttlMs))));
    },
    async destroy(id) {
      if (!isSessionId(id)) return;
      await guarded("destroy", () => client.del(sessionKey(id)));
    },
    list,
    async describe(id) {
      if (!isSessionId(id)) return undefined;
      const key = sessionKey(id);
      const [size, ttl] = await guarded("describe", () => Promise.all([client.strLen(key), client.pTTL(key)]));
      if (ttl <= 0) return undefined;
      return { location: key, sizeBytes: size, expiresAt: Date.now() + ttl, ttlSeconds: Math.ceil(ttl / 1000) };
    },
    sweep: async () => 0, // Redis expires keys itself
    async clear() {
      return guarded("clear", async () => {
        let removed = 0;
        for await (const batch of client.scanIterator({ MATCH: `${keys.session}*`, COUNT: 500 })) {
          if (batch.length > 0) removed += await client.del(batch);
        }
        return removed;
      });
    },
    check: () => guarded("ping", () => client.ping()).then(() => undefined),
    async close() {
      closed = true;
      // Destroyed first: a client still trying to reach Redis stops retrying, and the
      // pending attempt ends within one back-off step (connect() would wait for Redis forever).
      if (client.isOpen) client.destroy();
      await connecting;
    },
  };

  async function list(): Promise<StoredSession[]> {
    return guarded("list", async () => {
      const sessions: StoredSession[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${keys.session}*`, COUNT: 500 })) {
        for (const key of batch) {
          const id = key.slice(keys.session.length);
          const [text, ttl] = await Promise.all([client.get(key), client.pTTL(key)]);
          if (isSessionId(id) && text && ttl > 0) {
            sessions.push({ id, data: JSON.parse(text) as SessionData, expiresAt: Date.now() + ttl });
          }
        }
      }
      return sessions.sort((a, b) => b.expiresAt - a.expiresAt);
    });
  }

  return {
    kind: "redis",
    store,
    locks: createRedisLocks(client, keys.lock, config.sessionLockTimeoutMs, guarded, deps),
    limiters: (options) =>
      guardedLimiter(
        new RateLimiterRedis({ ...options, keyPrefix: `${keys.limiter}:${options.keyPrefix}`, storeClient: client, useRedisPackage: true }),
      ),
    check: () => store.check(),
    close: () => store.close(),
  };
}

/** redis://user:password@host → redis://user:***@host, for logs and the inspector. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

type Guard = <T>(operation: string, run: () => Promise<T>) => Promise<T>;

/**
 * The in-process queue first (one request per process asks Redis), then SET NX PX in Redis.
 * The lock's value names its owner (host, pid, this lock set, a random token), so a lock
 * left by a process that died on this host is taken over at once; one from another host
 * expires on its own.
 *
 * Redis can stop answering without the connection dropping (a pause, SIGSTOP, a long fsync):
 * the commands a request sent meanwhile stay in the socket and run when Redis goes on, after
 * the request has given up. So a lock whose taking or release failed is let go of at once,
 * with a release sent on the same connection (Redis runs it after the late SET NX), and
 * again on every reconnection until it succeeds. And a lock of this very lock set, found
 * while this process holds the session's queue, is one of these leftovers: taken over.
 */
function createRedisLocks(
  client: ReturnType<typeof createClient>,
  prefix: string,
  timeoutMs: number,
  guarded: Guard,
  deps: StorageDeps,
): SessionLocks {
  const mutex = new KeyedMutex();
  const host = hostname();
  const set = randomBytes(6).toString("base64url");
  const newToken = () => JSON.stringify({ host, pid: process.pid, set, token: randomBytes(12).toString("base64url") });
  const takeLock = (key: string, token: string) =>
    client.set(key, token, { NX: true, PX: LOCK_HOLD_MS }).then((reply) => reply === "OK");
  const unlock = (key: string, token: string) => client.eval(RELEASE_SCRIPT, { keys: [key], arguments: [token] });

  /** Locks this process no longer wants but may still hold in Redis: token → key. */
  const unreleased = new Map<string, string>();
  /** Releases a lock whenever Redis can be told, without making anyone wait for it. */
  function letGo(key: string, token: string): void {
    unreleased.set(token, key);
    unlock(key, token).then(
      () => unreleased.delete(token),
      () => undefined, // offline: sent again on the next "ready"
    );
  }
  client.on("ready", () => {
    for (const [token, key] of unreleased) letGo(key, token);
  });

  /** Removes a lock whose owner is gone: a dead process of this host, or a leftover of ours. */
  async function removeIfAbandoned(key: string): Promise<void> {
    const value = await client.get(key);
    let owner: { host?: string; pid?: number; set?: string } = {};
    try {
      owner = JSON.parse(value ?? "{}") as typeof owner;
    } catch {
      return; // not one of ours: it expires on its own
    }
    const ours = owner.set === set; // we hold the session's queue: no request of ours holds it
    const dead = owner.host === host && typeof owner.pid === "number" && !isAlive(owner.pid);
    if (value && (ours || dead)) await unlock(key, value);
  }
  const releaser =
    (id: string, key: string, token: string, taken: Promise<unknown> = Promise.resolve()): Release =>
    async () => {
      try {
        await guarded("unlock", async () => {
          await taken;
          await unlock(key, token);
        });
      } catch (err) {
        letGo(key, token);
        throw err;
      } finally {
        mutex.release(id);
      }
    };
  return {
    async acquire(id) {
      const giveUpAt = Date.now() + timeoutMs;
      if (!(await mutex.acquire(id, timeoutMs))) throw new SessionBusy();
      const key = prefix + id;
      const token = newToken();
      let sent = false;
      const tryLock = () => {
        sent = true;
        return takeLock(key, token);
      };
      try {
        for (let pause = 2; !(await guarded("lock", tryLock)); pause = Math.min(pause * 2, 25)) {
          if (Date.now() >= giveUpAt) throw new SessionBusy();
          await guarded("lock", () => removeIfAbandoned(key));
          await sleep(pause);
        }
      } catch (err) {
        // A SET NX that got no answer may still reach Redis after this request has given up.
        if (sent && err instanceof SessionStoreUnavailable) letGo(key, token);
        mutex.release(id);
        throw err;
      }
      return releaser(id, key, token);
    },
    lockNew(id) {
      // A new id nobody else can know yet: the in-process lock is taken at once, and the Redis
      // lock is sent before the response's headers, so it reaches Redis before the browser can
      // send the cookie to another instance.
      if (!mutex.tryAcquire(id)) return undefined;
      const key = prefix + id;
      if (!client.isReady) return async () => mutex.release(id); // its save fails: a 503
      const token = newToken();
      const taken = takeLock(key, token).catch((err: unknown) =>
        deps.logger.error({ err }, "redis: could not lock a new session"),
      );
      return releaser(id, key, token, taken);
    },
  };
}
