// One request at a time per session, like PHP's session lock: without it, two requests
// of one session (two tabs, a double click) each load the session, change it and save
// it, and the last save wins.
//
// - Within a process: a queue per session id (KeyedMutex).
// - Across processes sharing one sessions folder: a lock created atomically, which fails
//   if it exists (like O_EXCL), and names its owner (host, pid, token) and a deadline, so a
//   crashed holder never blocks a session for long: a dead owner on this host is noticed
//   at once, any other after its deadline. The lock is a symbolic link whose target is
//   the owner record: on this project's disks creating one costs a tenth of creating a
//   file with content (about 70 µs against 750 µs), and this happens on every request.
// Requests of different sessions never wait for each other.
import { randomBytes } from "node:crypto";
import { mkdirSync, promises as fs, symlinkSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SessionStoreUnavailable } from "./errors";

/** How long a holder may keep a lock before others may take it (a hung process). */
export const LOCK_HOLD_MS = 60_000;

export class SessionBusy extends Error {
  readonly status = 503;
  readonly retryAfterSeconds = 2;
  constructor() {
    super("the session is busy with another request");
    this.name = "SessionBusy";
  }
}

export type Release = () => Promise<void>;

export interface SessionLocks {
  /** Resolves when this request may use the session; rejects with SessionBusy on timeout. */
  acquire(id: string): Promise<Release>;
  /**
   * Locks a session id that nobody else can know yet (just generated), at once and
   * synchronously: called before its cookie is sent. Undefined if it is somehow held.
   */
  lockNew(id: string): Release | undefined;
}

/** A FIFO lock per key, inside one process. */
export class KeyedMutex {
  /** A key is held while it is in the map; its array holds the waiters, in order. */
  private readonly queues = new Map<string, ((granted: boolean) => void)[]>();

  /** Takes the key only if nobody holds it; synchronous. */
  tryAcquire(key: string): boolean {
    if (this.queues.has(key)) return false;
    this.queues.set(key, []);
    return true;
  }

  acquire(key: string, timeoutMs: number): Promise<boolean> {
    const queue = this.queues.get(key);
    if (!queue) {
      this.queues.set(key, []);
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const waiter = (granted: boolean) => {
        clearTimeout(timer);
        resolve(granted);
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(waiter), 1);
        resolve(false);
      }, timeoutMs);
      queue.push(waiter);
    });
  }

  release(key: string): void {
    const queue = this.queues.get(key);
    const next = queue?.shift();
    if (next) next(true);
    else this.queues.delete(key);
  }
}

export function createMemoryLocks(timeoutMs: number): SessionLocks {
  const mutex = new KeyedMutex();
  return {
    async acquire(id) {
      if (!(await mutex.acquire(id, timeoutMs))) throw new SessionBusy();
      return async () => mutex.release(id);
    },
    lockNew(id) {
      return mutex.tryAcquire(id) ? async () => mutex.release(id) : undefined;
    },
  };
}

interface LockOwner {
  host: string;
  pid: number;
  token: string;
  until: number;
}

/** The in-process queue first (so one request per process polls the file), then the file. */
export function createFileLocks(dir: string, timeoutMs: number, holdMs = LOCK_HOLD_MS): SessionLocks {
  const mutex = new KeyedMutex();
  const host = hostname();
  return {
    async acquire(id) {
      const startedAt = Date.now();
      if (!(await mutex.acquire(id, timeoutMs))) throw new SessionBusy();
      const file = path.join(dir, `${id}.lock`);
      let token: string | undefined;
      try {
        token = await lockFile(file, startedAt + timeoutMs);
      } catch (err) {
        throw new SessionStoreUnavailable("lock", err); // the folder is gone or unusable
      } finally {
        if (!token) mutex.release(id);
      }
      if (!token) throw new SessionBusy();
      return releaser(id, file, token);
    },
    lockNew(id) {
      if (!mutex.tryAcquire(id)) return undefined;
      const file = path.join(dir, `${id}.lock`);
      const { token, owner } = newOwner();
      try {
        try {
          symlinkSync(owner, file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          mkdirSync(dir); // the locks folder only: a missing sessions folder is an error
          symlinkSync(owner, file);
        }
      } catch {
        mutex.release(id);
        return undefined;
      }
      return releaser(id, file, token);
    },
  };

  function newOwner() {
    const token = randomBytes(9).toString("base64url");
    return { token, owner: JSON.stringify({ host, pid: process.pid, token, until: Date.now() + holdMs }) };
  }

  function releaser(id: string, file: string, token: string): Release {
    const heldSince = Date.now();
    return async () => {
      try {
        // Others may take the lock only after its deadline: before half of it, it is
        // surely still ours and one unlink releases it (no read of the owner back).
        if (Date.now() - heldSince < holdMs / 2) await unlinkIfThere(file);
        else await unlockFile(file, token);
      } finally {
        mutex.release(id);
      }
    };
  }

  async function lockFile(file: string, giveUpAt: number): Promise<string | undefined> {
    const { token, owner } = newOwner();
    for (let pause = 1; ; pause = Math.min(pause * 2, 25)) {
      try {
        await fs.symlink(owner, file);
        return token;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          // The locks folder only: a missing sessions folder stays an error (a 503), not
          // something recreated behind the operator's back.
          await fs.mkdir(dir).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== "EEXIST") throw e;
          });
          continue;
        }
        if (code !== "EEXIST") throw err;
      }
      if (await removeIfAbandoned(file)) continue;
      if (Date.now() >= giveUpAt) return undefined;
      await sleep(pause);
    }
  }

  async function unlockFile(file: string, token: string): Promise<void> {
    const owner = await readOwner(file);
    if (owner?.token === token) await unlinkIfThere(file);
  }

  /** Takes away a lock whose owner died or overstayed; safe if two processes try at once. */
  async function removeIfAbandoned(file: string): Promise<boolean> {
    const before = await fs.lstat(file).catch(() => undefined); // lstat: the link itself
    if (!before) return true; // released meanwhile
    const owner = await readOwner(file);
    const abandoned = owner
      ? owner.until < Date.now() || (owner.host === host && !isAlive(owner.pid))
      : before.mtimeMs + 5_000 < Date.now(); // unreadable and old: a crash mid-write
    if (!abandoned) return false;
    // Move it aside, then check we moved the file we judged and not a newer lock.
    const aside = `${file}.${randomBytes(6).toString("hex")}.stale`;
    if (!(await fs.rename(file, aside).then(() => true, () => false))) return true;
    const moved = await fs.lstat(aside).catch(() => undefined);
    if (moved && moved.ino !== before.ino) await fs.rename(aside, file).catch(() => undefined);
    await fs.rm(aside, { force: true });
    return true;
  }
}

/** unlink(), where fs.rm({ force }) would lstat() first: this runs on every request. */
async function unlinkIfThere(file: string): Promise<void> {
  await fs.unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** The owner record: a link's target, or (locks left by older versions) a file's content. */
async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const record = await fs.readlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "EINVAL") return fs.readFile(file, "utf8"); // not a link
      throw err;
    });
    return JSON.parse(record) as LockOwner;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
