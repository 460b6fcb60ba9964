// Chooses and builds the session store from the config. Each kind is one case here:
// the rest of the app sees an express-session Store, the per-session lock, and a few
// operations of its own (for the CLI, the inspector, revoking, /healthz).
import { mkdirSync } from "node:fs";
import path from "node:path";
import type session from "express-session";
import type { LimiterFactory } from "../auth/throttle";
import type { Config, SessionStoreKind } from "../config";
import { FileStore, type RecordInfo, type StoredSession, type StoreLogger } from "./fileStore";
import { ttlMs } from "./lifetime";
import { createFileLocks, createMemoryLocks, type SessionLocks } from "./lock";
import { MemoryStore } from "./memoryStore";
import { createRedisStorage } from "./redis";

export interface SessionStorage {
  readonly kind: SessionStoreKind;
  readonly store: session.Store;
  /** The per-session lock that serialises requests of one session. */
  readonly locks: SessionLocks;
  /** Where the log-in throttle keeps its counts, when not in this process's memory. */
  readonly limiters?: LimiterFactory;
  /** Every live session, newest expiry first. */
  list(): Promise<StoredSession[]>;
  /** Where one session is kept (file, key, memory), or undefined if it is not stored. */
  describe(id: string): Promise<RecordInfo | undefined>;
  /** Deletes one session (revoking it). */
  remove(id: string): Promise<void>;
  /** Removes expired sessions now; resolves to how many. */
  sweep(): Promise<number>;
  /** Removes every session; resolves to how many. */
  removeAll(): Promise<number>;
  /** Rejects when the store cannot serve sessions (for /healthz). */
  check(): Promise<void>;
  /** Stops background work (the sweep) and closes connections. */
  close(): Promise<void>;
}

export const LOCKS_FOLDER = ".locks";

export interface StorageDeps {
  logger: StoreLogger & { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  now?: () => number;
}

export function createSessionStorage(config: Config, deps: StorageDeps): SessionStorage {
  switch (config.sessionStore) {
    case "memory":
      return createMemoryStorage(config, deps);
    case "file":
      return createFileStorage(config, deps);
    case "redis":
      return createRedisStorage(config, deps);
  }
}

function createMemoryStorage(config: Config, deps: StorageDeps): SessionStorage {
  const store = new MemoryStore({ ttlMs: (data, now) => ttlMs(config, data, now), now: deps.now });
  const sweeper = startSweeping(() => store.sweep(), config.sessionSweepIntervalMs, deps);
  return {
    kind: "memory",
    store,
    locks: createMemoryLocks(config.sessionLockTimeoutMs),
    list: () => store.list(),
    describe: (id) => store.describe(id),
    remove: async (id) => store.destroy(id),
    sweep: () => store.sweep(),
    removeAll: () => store.removeAll(),
    check: async () => undefined,
    close: sweeper.stop,
  };
}

function createFileStorage(config: Config, deps: StorageDeps): SessionStorage {
  mkdirSync(config.sessionDir, { recursive: true });
  const store = new FileStore({
    dir: config.sessionDir,
    ttlMs: (data, now) => ttlMs(config, data, now),
    logger: deps.logger,
    now: deps.now,
  });
  const sweeper = startSweeping(() => store.sweep(), config.sessionSweepIntervalMs, deps);
  return {
    kind: "file",
    store,
    // Lock files live beside the sessions, so every process sharing the folder sees them.
    locks: createFileLocks(path.join(config.sessionDir, LOCKS_FOLDER), config.sessionLockTimeoutMs),
    list: () => store.list(),
    describe: (id) => store.describe(id),
    remove: (id) => store.remove(id),
    sweep: () => store.sweep(),
    removeAll: () => store.clear(),
    check: () => store.check(),
    close: sweeper.stop,
  };
}

/**
 * Runs `sweep` every `intervalMs` in the background, never two at once; stop() waits for
 * a running one.
 */
function startSweeping(sweep: () => Promise<unknown>, intervalMs: number, deps: StorageDeps) {
  let sweeping: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (sweeping) return; // the last one is still going (a very large folder)
    const started = Date.now();
    sweeping = sweep()
      .then((removed) => {
        if (removed) deps.logger.info({ removed, ms: Date.now() - started }, "expired sessions removed");
      })
      .catch((err: Error) => deps.logger.error({ err: err.message }, "session sweep failed"))
      .finally(() => (sweeping = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}
