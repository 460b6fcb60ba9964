// Chooses and builds the session storage from the config. Each kind is one case here:
// the rest of the app sees a store (the contract of store.ts), the per-session lock, and
// where the log-in throttle keeps its counts.
import { chmodSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import type { LimiterFactory } from "../auth/throttle";
import type { Config, SessionStoreKind } from "../config";
import { FileStore, type StoreLogger } from "./fileStore";
import { createFileLocks, createMemoryLocks, type SessionLocks } from "./lock";
import { MemoryStore } from "./memoryStore";
import { createRedisStorage } from "./redis";
import type { SessionStore } from "./store";

export interface SessionStorage {
  readonly kind: SessionStoreKind;
  readonly store: SessionStore;
  /** The per-session lock that serialises requests of one session. */
  readonly locks: SessionLocks;
  /** Where the log-in throttle keeps its counts, when not in this process's memory. */
  readonly limiters?: LimiterFactory;
  /** Rejects when the store cannot serve sessions (for /healthz and the start). */
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
      return swept(config, deps, new MemoryStore({ now: deps.now }), createMemoryLocks(config.sessionLockTimeoutMs));
    case "file": {
      // The file names are session ids: whoever can list the folder can use them.
      mkdirSync(config.sessionDir, { recursive: true, mode: 0o700 });
      const store = new FileStore({ dir: config.sessionDir, logger: deps.logger, now: deps.now });
      // Lock files live beside the sessions, so every process sharing the folder sees them.
      const locks = createFileLocks(path.join(config.sessionDir, LOCKS_FOLDER), config.sessionLockTimeoutMs);
      return swept(config, deps, store, locks);
    }
    case "redis":
      return createRedisStorage(config, deps);
  }
}

/** A store that expires nothing on its own, with its sweep running in the background. */
function swept(config: Config, deps: StorageDeps, store: SessionStore, locks: SessionLocks): SessionStorage {
  const sweeper = startSweeping(() => store.sweep(), config.sessionSweepIntervalMs, deps);
  return {
    kind: store.kind,
    store,
    locks,
    check: () => store.check(),
    async close() {
      await sweeper.stop();
      await store.close();
    },
  };
}

export class UnsafeSessionDir extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeSessionDir";
  }
}

/**
 * The start's check of SESSION_DIR, as OpenSSH checks the files that hold its keys. Its
 * file names are session ids, so whoever can list it can use them, and whoever can write
 * in it can plant or swap sessions. Throws UnsafeSessionDir, saying how to fix it, when
 * the folder belongs to another user or others may write in it. A folder that others may
 * only list (0755: how earlier versions created it) is this user's to close: it becomes
 * 0700, and the returned line says so.
 */
export function secureSessionDir(dir: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // Windows: no owners and modes to check
  const stats = statSync(dir);
  const mode = (stats.mode & 0o7777).toString(8).padStart(4, "0");
  if (stats.uid !== uid) {
    throw new UnsafeSessionDir(
      `SESSION_DIR ${dir} belongs to another user (uid ${stats.uid}; this server runs as uid ${uid}), ` +
        `who can read and change every session in it: run \`chown ${uid} ${dir} && chmod 700 ${dir}\`, ` +
        `or set SESSION_DIR to a folder of this user's`,
    );
  }
  if (stats.mode & 0o022) {
    throw new UnsafeSessionDir(
      `SESSION_DIR ${dir} is writable by other users (mode ${mode}), who could plant or swap ` +
        `session files in it: run \`chmod 700 ${dir}\``,
    );
  }
  if (!(stats.mode & 0o077)) return undefined;
  chmodSync(dir, 0o700);
  return `SESSION_DIR ${dir} could be listed by other users (mode ${mode}), and its file names are session ids: made it 0700`;
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
      .catch((err: unknown) => deps.logger.error({ err }, "session sweep failed"))
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
