// Server-side sessions on disk, one JSON file per session (like Flask-Session's
// "filesystem" type), written for express-session.
//
// The file's modification time is the session's expiry time, not its last access:
// - `touch` is a single utimes() call: it never rewrites the data, so it cannot undo
//   a concurrent `set`;
// - the sweep decides with stat() alone, without reading or parsing any file;
// - each session may have its own lifetime (remember-me), and the sweep still knows.
// Writes go to a temporary file in the same folder and are renamed over the old one, so
// a crash leaves either the old session or the new one, never half of one.
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
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
    this.read(id).then(
      (data) => callback(null, data),
      (err) => callback(err),
    );
  }

  override set(id: string, data: SessionData, callback?: Callback): void {
    this.write(id, data).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  override touch(id: string, data: SessionData, callback?: Callback): void {
    if (wasJustSaved(data)) return callback?.(); // written by this very request: expiry is fresh
    this.extend(id, data).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  override destroy(id: string, callback?: Callback): void {
    this.remove(id).then(
      () => callback?.(),
      (err) => callback?.(err),
    );
  }

  /** The session's data, or null when it is unknown, expired or unreadable. Never throws. */
  async read(id: string): Promise<SessionData | null> {
    const file = this.fileFor(id);
    if (!file) return null;
    let text: string;
    try {
      const stats = await fs.stat(file);
      if (stats.mtimeMs <= this.now()) return null;
      text = await fs.readFile(file, "utf8");
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

  async write(id: string, data: SessionData): Promise<void> {
    const file = this.fileFor(id);
    if (!file) throw new SessionStoreUnavailable("set", new Error("refused a malformed session id"));
    const temp = path.join(this.dir, `.${id}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    const expiresAt = this.expiryFor(data);
    try {
      await fs.writeFile(temp, stringifySession(data, this.now()), { mode: 0o600 });
      await fs.utimes(temp, this.now() / 1000, expiresAt / 1000);
      await fs.rename(temp, file);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw new SessionStoreUnavailable("set", err);
    }
    this.reported.delete(file);
  }

  /** Pushes the expiry forward without touching the data; a deleted session stays deleted. */
  async extend(id: string, data: SessionData): Promise<void> {
    const file = this.fileFor(id);
    if (!file) return;
    try {
      await fs.utimes(file, this.now() / 1000, this.expiryFor(data) / 1000);
    } catch (err) {
      if (!isMissing(err)) throw new SessionStoreUnavailable("touch", err);
    }
  }

  async remove(id: string): Promise<void> {
    const file = this.fileFor(id);
    if (!file) return;
    try {
      await fs.unlink(file);
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

  private expiryFor(data: SessionData): number {
    const now = this.now();
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
