// One request at a time per session, like PHP's session lock: without it, two requests
// of one session (two tabs, a double click) each load the session, change it and save
// it, and the last save wins.
//
// - Within a process: a queue per session id (KeyedMutex).
// - Across processes sharing one sessions folder: a lock created atomically, which fails
//   if it exists (like O_EXCL), and names its owner (host, pid), so a crashed holder never
//   blocks a session for long: a dead owner on this host is noticed at once, any other
//   (or a hung one) once its heartbeat is older than LOCK_HOLD_MS.
//   Each process writes its owner record once, in a file of the locks folder, and a lock
//   is a hard link to it: link() creates no new inode, so taking and releasing a lock is
//   far cheaper than a symbolic link or a new file (see the README's "Speed" section).
//   The record's mtime (shared by all its links) is the owner's heartbeat,
//   refreshed when it takes a lock. Taking a free lock and giving it back are synchronous
//   calls (one each), like the session store's; only waiting for a busy lock is async.
// Requests of different sessions never wait for each other.
import { randomBytes } from "node:crypto";
import {
  linkSync,
  mkdirSync,
  promises as fs,
  readdirSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ServiceUnavailable } from "../http/errors";
import { SessionStoreUnavailable } from "./errors";

/** How old a holder's heartbeat may get before others may take its locks (a hung process). */
export const LOCK_HOLD_MS = 60_000;
/** The owner records' names in the locks folder: `owner.<host>.<pid>.<random>`. */
const OWNER_PREFIX = "owner.";

export class SessionBusy extends ServiceUnavailable {
  constructor() {
    super("the session is busy with another request", {
      service: "session lock",
      retryAfterSeconds: 2,
      visitorText: "Your session is still busy with another request (another tab, or a double click).",
    });
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
}

/** The identity of one lock file: its inode and its owner's heartbeat. */
const sameLock = (a: { ino: number; mtimeMs: number }, b: { ino: number; mtimeMs: number }) =>
  a.ino === b.ino && a.mtimeMs === b.mtimeMs;

/** The in-process queue first (so one request per process polls the file), then the file. */
export function createFileLocks(dir: string, timeoutMs: number, holdMs = LOCK_HOLD_MS): SessionLocks {
  const mutex = new KeyedMutex();
  const host = hostname();
  /** This lock set's owner record, once written, and when its heartbeat was last refreshed. */
  let owner: { file: string; beat: number } | undefined;
  return {
    async acquire(id) {
      const startedAt = Date.now();
      if (!(await mutex.acquire(id, timeoutMs))) throw new SessionBusy();
      const file = path.join(dir, `${id}.lock`);
      let taken = false;
      try {
        taken = await lockFile(file, startedAt + timeoutMs);
      } catch (err) {
        throw new SessionStoreUnavailable("lock", err); // the folder is gone or unusable
      } finally {
        if (!taken) mutex.release(id);
      }
      if (!taken) throw new SessionBusy();
      return releaser(id, file);
    },
    lockNew(id) {
      if (!mutex.tryAcquire(id)) return undefined;
      const file = path.join(dir, `${id}.lock`);
      let taken: boolean;
      try {
        taken = tryLockNow(file);
      } catch {
        taken = false; // the folder is unusable: the next request will say so
      }
      if (taken) return releaser(id, file);
      mutex.release(id);
      return undefined;
    },
  };

  /**
   * Creates the lock at once if it is free: true if taken, false if someone holds it.
   * Creates the locks folder and this process's owner record when they are missing, never
   * the sessions folder (a missing sessions folder stays an error, a 503, not something
   * recreated behind the operator's back).
   */
  function tryLockNow(file: string): boolean {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!owner || Date.now() - owner.beat > holdMs / 4) beat();
        linkSync(owner!.file, file);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") return false;
        // ENOENT: the folder or the record was removed; EMLINK: too many links to one record.
        if ((code !== "ENOENT" && code !== "EMLINK") || attempt > 0) throw err;
        owner = undefined;
      }
    }
  }

  /** Refreshes the heartbeat, writing the owner record first if there is none. */
  function beat(): void {
    const now = Date.now();
    if (owner) {
      utimesSync(owner.file, now / 1000, now / 1000);
      owner.beat = now;
      return;
    }
    try {
      mkdirSync(dir, 0o700); // lock names are session ids: nobody else may list them
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    removeDeadOwners();
    const file = path.join(dir, `${OWNER_PREFIX}${host}.${process.pid}.${randomBytes(6).toString("hex")}`);
    writeFileSync(file, JSON.stringify({ host, pid: process.pid } satisfies LockOwner), { mode: 0o600 });
    owner = { file, beat: now };
  }

  /** Records of processes of this host that have died (their locks are taken over anyway). */
  function removeDeadOwners(): void {
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(OWNER_PREFIX)) continue;
      const parts = name.split("."); // owner, the host (which may have dots), pid, random
      const ownerHost = parts.slice(1, -2).join(".");
      if (ownerHost === host && !isAlive(Number(parts.at(-2)))) unlinkIfThere(path.join(dir, name));
    }
  }

  function releaser(id: string, file: string): Release {
    const heldSince = Date.now();
    const ownerFile = owner!.file;
    return async () => {
      try {
        // Others may take the lock only when the heartbeat is LOCK_HOLD_MS old, and it
        // was at most a quarter of that when the lock was taken: before half of it, the
        // lock is surely still ours and one unlink releases it.
        if (Date.now() - heldSince < holdMs / 2) unlinkIfThere(file);
        else await unlockFile(file, ownerFile);
      } finally {
        mutex.release(id);
      }
    };
  }

  async function lockFile(file: string, giveUpAt: number): Promise<boolean> {
    for (let pause = 1; ; pause = Math.min(pause * 2, 25)) {
      if (tryLockNow(file)) return true;
      if (await removeIfAbandoned(file)) continue;
      if (Date.now() >= giveUpAt) return false;
      await sleep(pause);
    }
  }

  /** Releases a lock held long: only if it is still a link to our record. */
  async function unlockFile(file: string, ownerFile: string): Promise<void> {
    const [lock, mine] = await Promise.all([
      fs.lstat(file).catch(() => undefined),
      fs.stat(ownerFile).catch(() => undefined),
    ]);
    if (lock && mine && lock.ino === mine.ino) unlinkIfThere(file);
  }

  /** Takes away a lock whose owner died or overstayed; safe if two processes try at once. */
  async function removeIfAbandoned(file: string): Promise<boolean> {
    const before = await fs.lstat(file).catch(() => undefined); // lstat: the link itself
    if (!before) return true; // released meanwhile
    const record = await readOwner(file);
    const abandoned = record
      ? before.mtimeMs + holdMs < Date.now() || (record.host === host && !isAlive(record.pid))
      : before.mtimeMs + 5_000 < Date.now(); // unreadable and old: a crash mid-write
    if (!abandoned) return false;
    // Move it aside, then check we moved the lock we judged and not a newer one.
    const aside = `${file}.${randomBytes(6).toString("hex")}.stale`;
    if (!(await fs.rename(file, aside).then(() => true, () => false))) return true;
    const moved = await fs.lstat(aside).catch(() => undefined);
    if (moved && !sameLock(moved, before)) await fs.rename(aside, file).catch(() => undefined);
    await fs.rm(aside, { force: true });
    return true;
  }
}

/** unlink(), where fs.rm({ force }) would lstat() first: this runs on every request. */
function unlinkIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** The owner record a lock links to. */
async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as LockOwner;
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
