// Server-side sessions on disk, one JSON file per session (like Flask-Session's
// "filesystem" type), written for express-session.
//
// The file's modification time is the session's expiry time, not its last access:
// - `touch` is a single utimes() call: it never rewrites the data, so it cannot undo
//   a concurrent `set`;
// - the sweep decides with stat() alone, without reading or parsing any file;
// - each session may have its own lifetime (remember-me), and the sweep still knows.
//
// A request's reads and writes are synchronous system calls, like better-sqlite3's: on a
// local disk each takes microseconds, less than handing it to libuv's thread pool and
// back (measured in the README's "Speed" section). The sweep and the listing, which visit
// every file, stay asynchronous and yield between batches.
//
// No write ever leaves half a session behind, even if the process is killed mid-write:
// - a session of at most one page (4 KiB, nearly all of them) is rewritten in place with
//   one write() at offset 0, padded with spaces to the file's old length (JSON ignores
//   them). Linux copies one page whole or not at all, even for SIGKILL. This avoids the
//   create-and-rename that ext4 makes expensive (it flushes the new data first);
// - a new session's file is created, written, and only then given its expiry: until then
//   its mtime is in the past, so it counts as expired, is never read, and is swept;
// - a larger session goes through a temporary file in the same folder, renamed over the
//   old one: a crash leaves either the old session or the new one.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  futimesSync,
  openSync,
  promises as fs,
  readSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import session from "express-session";
import type { SessionData } from "express-session";
import { isSessionId } from "./ids";
import { SessionStoreUnavailable } from "./errors";
import { wasJustSaved } from "./saveFirst";

type Callback<T = void> = (err?: unknown, value?: T) => void;

export interface StoreLogger {
  warn(obj: object, msg: string): void;
}

export interface FileStoreOptions {
  dir: string;
  /** How long a session lives after an access at `now`, in ms. */
  ttlMs: (data: SessionData, now: number) => number;
  logger: StoreLogger;
  now?: () => number;
}

export interface StoredSession {
  id: string;
  expiresAt: number;
  data: SessionData;
}

/** Where a session is kept, for the inspector. */
export interface RecordInfo {
  /** The file, the Redis key, or a phrase for the memory store. */
  location: string;
  sizeBytes?: number;
  /** The file's mtime, which this store uses as the expiry. */
  modifiedAt?: number;
  expiresAt?: number;
  /** Redis: the key's time to live. */
  ttlSeconds?: number;
}

const SUFFIX = ".json";
/** Writes up to this size, at offset 0, cover one page: the kernel copies them whole. */
const ONE_PAGE = 4096;
const SPACE = 0x20;
const TEMP_SUFFIX = ".tmp";
/** A temporary file older than this was left by a crash. */
const STALE_TEMP_MS = 60_000;
/** Files stat()ed at once by the sweep; it yields to the event loop between batches. */
const SWEEP_BATCH = 64;
const MAX_REPORTED = 1_000;

/** A session as JSON, stamped with when it was first stored (every store uses this). */
export function stringifySession(data: SessionData, now: number): string {
  return JSON.stringify(data.createdAt === undefined ? { ...data, createdAt: now } : data);
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

/** Runs a synchronous operation for a callback-style method. */
function answer<T>(callback: Callback<T> | undefined, work: () => T): void {
  let value: T;
  try {
    value = work();
  } catch (err) {
    return callback?.(err);
  }
  callback?.(null, value);
}

/** Writes all of `bytes` at `position` (write() may write less than asked). */
function writeAll(fd: number, bytes: Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** The whole content of an open file of `size` bytes. */
function readAll(fd: number, size: number): string {
  const buffer = Buffer.allocUnsafe(size);
  let done = 0;
  for (let n = -1; done < size && n !== 0; done += n) n = readSync(fd, buffer, done, size - done, done);
  return buffer.toString("utf8", 0, done);
}

export class FileStore extends session.Store {
  readonly kind = "file";
  readonly dir: string;
  private readonly ttlMs: (data: SessionData, now: number) => number;
  private readonly logger: StoreLogger;
  private readonly now: () => number;
  /** Unreadable files already logged: each is reported once, not on every request. */
  private readonly reported = new Set<string>();

  constructor(options: FileStoreOptions) {
    super();
    this.dir = options.dir;
    this.ttlMs = options.ttlMs;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** The file that holds a session, or undefined for an id we could not have issued. */
  fileFor(id: string): string | undefined {
    return isSessionId(id) ? path.join(this.dir, id + SUFFIX) : undefined;
  }

  override get(id: string, callback: Callback<SessionData | null>): void {
    answer(callback, () => this.readNow(id));
  }

  override set(id: string, data: SessionData, callback?: Callback): void {
    answer(callback, () => this.writeNow(id, data));
  }

  override touch(id: string, data: SessionData, callback?: Callback): void {
    if (wasJustSaved(data)) return callback?.(); // written by this very request: expiry is fresh
    answer(callback, () => this.extendNow(id, data));
  }

  override destroy(id: string, callback?: Callback): void {
    answer(callback, () => this.removeNow(id));
  }

  /** The session's data, or null when it is unknown, expired or unreadable. Never throws. */
  async read(id: string): Promise<SessionData | null> {
    return this.readNow(id);
  }

  async write(id: string, data: SessionData): Promise<void> {
    this.writeNow(id, data);
  }

  /** Pushes the expiry forward without touching the data; a deleted session stays deleted. */
  async extend(id: string, data: SessionData): Promise<void> {
    this.extendNow(id, data);
  }

  async remove(id: string): Promise<void> {
    this.removeNow(id);
  }

  private readNow(id: string): SessionData | null {
    const file = this.fileFor(id);
    if (!file) return null;
    let text: string;
    try {
      const fd = openSync(file, "r");
      try {
        const stats = fstatSync(fd);
        if (stats.mtimeMs <= this.now()) return null;
        text = readAll(fd, stats.size);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if (!isMissing(err)) this.reportOnce(file, err);
      return null;
    }
    try {
      return JSON.parse(text) as SessionData;
    } catch (err) {
      this.reportOnce(file, err);
      return null;
    }
  }

  private writeNow(id: string, data: SessionData): void {
    const file = this.fileFor(id);
    if (!file) throw new SessionStoreUnavailable("set", new Error("refused a malformed session id"));
    const now = this.now();
    const bytes = Buffer.from(stringifySession(data, now));
    const expiresAt = this.expiryFor(data, now);
    try {
      if (bytes.length > ONE_PAGE || !this.rewriteInPlace(file, bytes, now, expiresAt)) {
        this.replace(file, id, bytes, now, expiresAt);
      }
    } catch (err) {
      throw new SessionStoreUnavailable("set", err);
    }
    this.reported.delete(file);
  }

  /**
   * One write() of at most a page at offset 0, then the expiry. Creates the file when
   * there is none. False when the file is larger than a page (it needs a rename).
   */
  private rewriteInPlace(file: string, bytes: Buffer, now: number, expiresAt: number): boolean {
    let fd: number;
    try {
      fd = openSync(file, "r+");
    } catch (err) {
      if (!isMissing(err)) throw err;
      fd = openSync(file, "wx", 0o600); // new: mtime now, so expired until complete
    }
    try {
      const size = fstatSync(fd).size;
      if (size > ONE_PAGE) return false;
      const padded = size > bytes.length ? Buffer.alloc(size, SPACE) : bytes;
      if (padded !== bytes) bytes.copy(padded);
      writeAll(fd, padded, 0);
      futimesSync(fd, now / 1000, expiresAt / 1000);
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /** A temporary file in the same folder, renamed over the session's file. */
  private replace(file: string, id: string, bytes: Buffer, now: number, expiresAt: number): void {
    const temp = path.join(this.dir, `.${id}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    try {
      const fd = openSync(temp, "wx", 0o600);
      try {
        writeAll(fd, bytes, 0);
        futimesSync(fd, now / 1000, expiresAt / 1000);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
    } catch (err) {
      try {
        unlinkSync(temp);
      } catch {
        // never created, or already gone
      }
      throw err;
    }
  }

  private extendNow(id: string, data: SessionData): void {
    const file = this.fileFor(id);
    if (!file) return;
    try {
      utimesSync(file, this.now() / 1000, this.expiryFor(data) / 1000);
    } catch (err) {
      if (!isMissing(err)) throw new SessionStoreUnavailable("touch", err);
    }
  }

  private removeNow(id: string): void {
    const file = this.fileFor(id);
    if (!file) return;
    try {
      unlinkSync(file);
    } catch (err) {
      if (!isMissing(err)) throw new SessionStoreUnavailable("destroy", err);
    }
  }

  /** Every live session, for the command line. Unreadable files are skipped. */
  async list(): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    await this.eachFile(async (name, file) => {
      const id = name.slice(0, -SUFFIX.length);
      if (!name.endsWith(SUFFIX) || !isSessionId(id)) return;
      const data = await this.read(id);
      if (!data) return;
      const stats = await fs.stat(file).catch(() => undefined);
      if (stats) sessions.push({ id, expiresAt: stats.mtimeMs, data });
    });
    return sessions.sort((a, b) => b.expiresAt - a.expiresAt);
  }

  /**
   * Removes expired sessions and temporary files left by a crash. Reads no session:
   * one stat() per file, in small batches that give the event loop back in between.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    const now = this.now();
    await this.eachFile(async (name, file) => {
      const temp = name.endsWith(TEMP_SUFFIX);
      if (!temp && !name.endsWith(SUFFIX)) return;
      const stats = await fs.stat(file).catch(() => undefined);
      if (!stats) return;
      const dead = temp ? stats.ctimeMs < now - STALE_TEMP_MS : stats.mtimeMs <= now;
      if (dead && (await fs.unlink(file).then(() => true, () => false)) && !temp) removed += 1;
    });
    return removed;
  }

  /** Removes every session. */
  override async clear(callback?: Callback): Promise<number> {
    let removed = 0;
    try {
      await this.eachFile(async (name, file) => {
        if (name.endsWith(SUFFIX) || name.endsWith(TEMP_SUFFIX)) {
          await fs.unlink(file).catch(() => undefined);
          removed += 1;
        }
      });
    } catch (err) {
      callback?.(err);
      throw err;
    }
    callback?.();
    return removed;
  }

  /**
   * Whether sessions can be stored: the folder exists and a file can really be written in
   * it (a read-only disk or a full one fails here even for root). For /healthz and the start.
   */
  async check(): Promise<void> {
    const probe = path.join(this.dir, `.probe-${process.pid}${TEMP_SUFFIX}`);
    await fs.writeFile(probe, "", { mode: 0o600 });
    await fs.unlink(probe);
  }

  private async eachFile(visit: (name: string, file: string) => Promise<void>): Promise<void> {
    let batch: Promise<void>[] = [];
    const folder = await fs.opendir(this.dir, { bufferSize: SWEEP_BATCH });
    for await (const entry of folder) {
      if (!entry.isFile()) continue;
      batch.push(visit(entry.name, path.join(this.dir, entry.name)));
      if (batch.length >= SWEEP_BATCH) {
        await Promise.all(batch);
        batch = [];
        await yieldToEventLoop();
      }
    }
    await Promise.all(batch);
  }

  /** The file behind a session, its size and its expiry (mtime); undefined when there is none. */
  async describe(id: string): Promise<RecordInfo | undefined> {
    const file = this.fileFor(id);
    const stats = file ? await fs.stat(file).catch(() => undefined) : undefined;
    if (!file || !stats) return undefined;
    return { location: file, sizeBytes: stats.size, modifiedAt: stats.mtimeMs, expiresAt: stats.mtimeMs };
  }

  private expiryFor(data: SessionData, now = this.now()): number {
    return now + this.ttlMs(data, now);
  }

  private reportOnce(file: string, err: unknown): void {
    if (this.reported.has(file)) return;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.add(file);
    this.logger.warn(
      { file: path.basename(file), err: (err as Error)?.message },
      "session file is unreadable or corrupt: treated as no session",
    );
  }
}
