// Chooses and builds the session store from the config. Each kind is one case here:
// the rest of the app only sees an express-session Store plus check() and close().
import { mkdirSync } from "node:fs";
import path from "node:path";
import session from "express-session";
import type { Config, SessionStoreKind } from "../config";
import { FileStore, type StoreLogger } from "./fileStore";
import { createFileLocks, createMemoryLocks, type SessionLocks } from "./lock";

export interface SessionStorage {
  readonly kind: SessionStoreKind;
  readonly store: session.Store;
  /** The per-session lock that serialises requests of one session. */
  readonly locks: SessionLocks;
  /** Rejects when the store cannot serve sessions (for /healthz). */
  check(): Promise<void>;
  /** Stops background work (the sweep). */
  close(): Promise<void>;
}

export const LOCKS_FOLDER = ".locks";

/** How often expired session files are removed. */
export const SWEEP_INTERVAL_MS = 5 * 60_000;

export interface StorageDeps {
  logger: StoreLogger & { error(obj: object, msg: string): void };
  now?: () => number;
}

export function createSessionStorage(config: Config, deps: StorageDeps): SessionStorage {
  switch (config.sessionStore) {
    case "memory":
      return {
        kind: "memory",
        store: new session.MemoryStore(),
        locks: createMemoryLocks(config.sessionLockTimeoutMs),
        check: async () => undefined,
        close: async () => undefined,
      };
    case "file":
      return createFileStorage(config, deps);
  }
}

function createFileStorage(config: Config, deps: StorageDeps): SessionStorage {
  mkdirSync(config.sessionDir, { recursive: true });
  const store = new FileStore({
    dir: config.sessionDir,
    ttlMs: () => config.sessionIdleTimeoutMs,
    logger: deps.logger,
    now: deps.now,
  });
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    sweeping = store
      .sweep()
      .catch((err: Error) => deps.logger.error({ err: err.message }, "session sweep failed"));
  };
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    kind: "file",
    store,
    // Lock files live beside the sessions, so every process sharing the folder sees them.
    locks: createFileLocks(path.join(config.sessionDir, LOCKS_FOLDER), config.sessionLockTimeoutMs),
    check: () => store.check(),
    close: async () => {
      clearInterval(timer);
      await sweeping;
    },
  };
}
