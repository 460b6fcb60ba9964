// Server-side sessions on disk, one JSON file per session (like Flask-Session's
// "filesystem" type), behind the store contract of store.ts.
//
// The record holds its own expiry, first, as `"expiresAt": "<ISO time>"`, and that is the
// truth: a learner who opens the file, changes `visits` and reloads sees the new number,
// whatever the editor did to the file's times. The file's modification time is set to the
// same expiry, but only as the sweep's hint (`ls -l --time-style=full-iso` shows it):
// - the sweep skips, without reading them, files whose mtime is still ahead; it reads the
//   others and deletes only those whose record says expired;
// - `touch` writes the new expiry over the old one in place: the same bytes at the same
//   place, one write() at offset 0 that never rewrites the data, so it cannot undo a
//   concurrent `set`; a file reformatted by hand is rewritten whole from what is on disk
//   (the per-session lock keeps the other requests of that session out meanwhile);
// - each session may have its own lifetime (remember-me), and the record says it.
//
// A request's reads and writes are synchronous system calls, like better-sqlite3's: on a
// local disk each is cheaper than handing it to libuv's thread pool and back (measured in
// the README's "Speed" section). The session layer's `get` keeps the file open for the
// request's write or touch (HeldRecord), so a request looks its file up by name once. The
// sweep and the listing, which visit every file, stay asynchronous and yield between batches.
//
// A session file is opened with O_NOFOLLOW and O_NONBLOCK, and used only if it is a regular
// file: a link, a FIFO or a folder under a session's name is no session, and the server
// neither blocks on it nor reads or writes anything outside the folder through it.
//
// No write ever leaves half a session behind, even if the process is killed mid-write:
// - a session of at most one page (4 KiB, nearly all of them) is rewritten in place with
//   one write() at offset 0, padded with spaces to the file's old length (JSON ignores
//   them). Linux copies one page whole or not at all, even for SIGKILL. This avoids the
//   create-and-rename that ext4 makes expensive (it flushes the new data first);
// - a new session's file is created empty, then written with that one write(): a crash in
//   between leaves an empty file, which is no session, and which the sweep removes;
// - a larger session goes through a temporary file in the same folder, renamed over the
//   old one: a crash leaves either the old session or the new one.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  futimesSync,
  lstatSync,
  openSync,
  promises as fs,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { SessionData } from "express-session";
import { isSessionId } from "./ids";
import { SessionStoreUnavailable } from "./errors";
import {
  stringifySession,
  type HeldRecord,
  type RecordInfo,
  type SessionStore,
  type StoredSession,
  type WriteOptions,
} from "./store";

export interface StoreLogger {
  warn(obj: object, msg: string): void;
}

export interface FileStoreOptions {
  dir: string;
  logger: StoreLogger;
  now?: () => number;
}

const SUFFIX = ".json";
/** Writes up to this size, at offset 0, cover one page: the kernel copies them whole. */
const ONE_PAGE = 4096;
const SPACE = 0x20;
const TEMP_SUFFIX = ".tmp";
/** A temporary file, or a session file that is not a record, untouched this long was left by a crash. */
const STALE_TEMP_MS = 60_000;
/** Files stat()ed at once by the sweep; it yields to the event loop between batches. */
const SWEEP_BATCH = 64;
const MAX_REPORTED = 1_000;
/** Never follow a link out of the folder; never wait for a writer on a FIFO. */
const READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const REWRITE = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** How every record this store writes begins: the expiry, always the same length. */
const HEAD = /^\{"expiresAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/;
const HEAD_LENGTH = '{"expiresAt":"2026-01-01T00:00:00.000Z"'.length;
/** Where the expiry's ISO time starts in HEAD. */
const HEAD_EXPIRY = '{"expiresAt":"'.length;

/** How every record begins: `{"expiresAt":"<ISO time>"` (HEAD's shape). */
const recordHead = (expiresAt: number) => `{"expiresAt":"${new Date(expiresAt).toISOString()}"`;

/**
 * A session's record on disk: its expiry first, where a reader of the file sees it, then the
 * data, as stringifySession makes it (from `json`, the data as JSON, when the caller has
 * it). Data with an `expiresAt` of its own has it left out: the record's expiry is the truth.
 */
function recordText(data: Partial<SessionData>, now: number, expiresAt: number, json?: string): string {
  let body: string;
  if ("expiresAt" in data) {
    const { expiresAt: _stale, ...rest } = data as SessionData & { expiresAt?: unknown };
    body = stringifySession(rest, now);
  } else {
    body = stringifySession(data, now, json);
  }
  return body === "{}" ? `${recordHead(expiresAt)}}` : `${recordHead(expiresAt)},${body.slice(1)}`;
}

interface SessionRecord {
  data: SessionData;
  expiresAt: number;
  /** The data's JSON as the file holds it, when it is laid out as this store writes it. */
  json?: string;
}

/** What a file under a session's name holds. */
type Found = SessionRecord | "missing" | "unusable";

const QUOTE = 0x22;
const CLOSE = "}";

/** Where a text ends once the whitespace JSON allows after it (space, tab, CR, LF) is left out. */
function jsonEnd(text: string): number {
  let end = text.length;
  for (let c = text.charCodeAt(end - 1); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; ) {
    c = text.charCodeAt(--end - 1);
  }
  return end;
}

/**
 * The record in a text laid out as this store writes it (HEAD, then `}` or `,"`), read
 * without taking the expiry out of the object: the data is the JSON after the head, and
 * comes back with it. Undefined for any other text.
 */
function parseOwnLayout(text: string): SessionRecord | undefined {
  if (!HEAD.test(text)) return undefined;
  const rest = text.slice(HEAD_LENGTH, jsonEnd(text)); // without the padding of a record that shrank
  const json = rest === CLOSE ? "{}" : rest.charCodeAt(1) === QUOTE && rest[0] === "," ? `{${rest.slice(1)}` : "";
  const data: unknown = json && JSON.parse(json);
  if (data && typeof data === "object" && !Array.isArray(data) && !("expiresAt" in data)) {
    const expiresAt = Date.parse(text.slice(HEAD_EXPIRY, HEAD_LENGTH - 1));
    if (!Number.isNaN(expiresAt)) return { data: data as SessionData, expiresAt, json };
  }
  return undefined;
}

/** The record in a file's text. Throws when the text is not one. */
function parseRecord(text: string, stats: Stats): SessionRecord {
  const own = parseOwnLayout(text);
  if (own) return own;
  // Laid out by hand, or by an older version: the whole text, its expiry taken out.
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error("not a JSON object");
  }
  const { expiresAt, ...data } = parsed as { expiresAt?: unknown };
  // Files written before the expiry moved into the record kept it in their mtime.
  const expiry = expiresAt === undefined ? stats.mtimeMs : Date.parse(String(expiresAt));
  if (Number.isNaN(expiry)) throw new Error("expiresAt is not a date");
  return { data: data as SessionData, expiresAt: expiry };
}

class NotARegularFile extends Error {
  constructor(stats: Stats) {
    super(`not a regular file (${stats.isFIFO() ? "a FIFO" : stats.isDirectory() ? "a folder" : "a special file"})`);
    this.name = "NotARegularFile";
  }
}

/** Whether a file (or a link) is there under this name. */
function lexists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function isMissing(err: unknown): boolean {
  return errorCode(err) === "ENOENT";
}

/** Writes all of `bytes` at `position` (write() may write less than asked). */
function writeAll(fd: number, bytes: Buffer, position: number): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

/** The first `size` bytes of an open file (fewer if it is shorter). */
function readStart(fd: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let done = 0;
  for (let n = -1; done < size && n !== 0; done += n) n = readSync(fd, buffer, done, size - done, done);
  return buffer.subarray(0, done);
}

/** One page, for readOwnLayout (synchronous: one caller at a time). */
const page = Buffer.allocUnsafe(ONE_PAGE);

/**
 * The record in an open file, from one read() of a page and no fstat(), when the file is
 * shorter than a page and laid out as this store writes it: what nearly every request finds.
 * Undefined otherwise (a FIFO that has nothing to read, an empty or larger file, any other
 * text): the caller then looks at the file as it always does, and says what it is.
 */
function readOwnLayout(fd: number): SessionRecord | undefined {
  let size: number;
  try {
    size = readSync(fd, page, 0, ONE_PAGE, 0);
  } catch {
    return undefined;
  }
  if (size === 0 || size === ONE_PAGE) return undefined;
  try {
    return parseOwnLayout(page.toString("utf8", 0, size));
  } catch {
    return undefined; // not JSON after all: the caller reports it
  }
}

/** Opens a session's file, and keeps it open only if it is a regular file. */
function openRegular(file: string, flags: number): { fd: number; stats: Stats } {
  const fd = openSync(file, flags);
  try {
    return { fd, stats: regularStats(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** An open file's stats; throws NotARegularFile when it is not a regular file. */
function regularStats(fd: number): Stats {
  const stats = fstatSync(fd);
  if (!stats.isFile()) throw new NotARegularFile(stats);
  return stats;
}

/**
 * A session's file, opened for reading and writing by a request's `get`, kept open for that
 * request's one write or touch (which closes it), or closed by `release` when there is none.
 */
class OpenFile implements HeldRecord {
  #fd: number | undefined;

  constructor(
    readonly file: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** The open file, now the taker's to close; undefined once taken or released. */
  take(): number | undefined {
    const fd = this.#fd;
    this.#fd = undefined;
    return fd;
  }

  release(): void {
    const fd = this.take();
    if (fd !== undefined) closeSync(fd);
  }
}

export class FileStore implements SessionStore {
  readonly kind = "file";
  readonly dir: string;
  private readonly logger: StoreLogger;
  private readonly now: () => number;
  /** Unreadable files already logged: each is reported once, not on every request. */
  private readonly reported = new Set<string>();

  constructor(options: FileStoreOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** The file that holds a session, or undefined for an id we could not have issued. */
  fileFor(id: string): string | undefined {
    return isSessionId(id) ? path.join(this.dir, id + SUFFIX) : undefined;
  }

  /**
   * The session, or undefined when it is unknown, expired or unreadable. Never rejects.
   * `hold`: the file stays open for this request's write or touch (one look-up by name per
   * request, not two), unless it cannot be opened for writing (a read-only disk, a link, a
   * folder: then it is read as without `hold`).
   */
  async get(id: string, { hold = false }: { hold?: boolean } = {}): Promise<(SessionRecord & { held?: OpenFile }) | undefined> {
    const file = this.fileFor(id);
    if (!file) return undefined;
    let fd: number | undefined;
    if (hold) {
      try {
        fd = openSync(file, REWRITE);
      } catch (err) {
        if (isMissing(err)) return undefined;
        // Not writable, a link, a folder: read as without `hold`, which says what it is.
      }
    }
    let found: Found;
    try {
      found = this.findNow(file, fd);
    } catch (err) {
      if (fd !== undefined) closeSync(fd); // the logger failed
      throw err;
    }
    if (typeof found === "object" && found.expiresAt > this.now()) {
      const record = { data: found.data, expiresAt: found.expiresAt, json: found.json };
      return fd === undefined ? record : { ...record, held: new OpenFile(file, fd) };
    }
    if (fd !== undefined) closeSync(fd);
    return undefined;
  }

  async set(
    id: string,
    data: Partial<SessionData>,
    ttlMs: number,
    { json, existing, held }: WriteOptions = {},
  ): Promise<boolean> {
    const open = this.heldFile(id, held);
    try {
      return this.writeNow(id, data, ttlMs, json, existing === true, open);
    } finally {
      open?.release(); // unless the write took it
    }
  }

  /** Pushes the expiry forward without touching the data; a deleted session stays deleted. */
  async touch(id: string, ttlMs: number, held?: HeldRecord): Promise<void> {
    const open = this.heldFile(id, held);
    try {
      this.extendNow(id, ttlMs, open);
    } finally {
      open?.release(); // unless the touch took it
    }
  }

  /** The open file `get` kept for this session, if that is what `held` is. */
  private heldFile(id: string, held: HeldRecord | undefined): OpenFile | undefined {
    return held instanceof OpenFile && held.file === this.fileFor(id) ? held : undefined;
  }

  async destroy(id: string): Promise<void> {
    this.removeNow(id);
  }

  async close(): Promise<void> {}

  /**
   * The record in a session's file (`fd`: already open, and left open). Anything unusable
   * but an empty file is logged once.
   */
  private findNow(file: string, fd?: number): Found {
    if (fd !== undefined) {
      const quick = readOwnLayout(fd);
      if (quick) return quick;
    }
    let text: string;
    let stats: Stats;
    try {
      const opened = fd === undefined ? openRegular(file, READ) : { fd, stats: regularStats(fd) };
      try {
        stats = opened.stats;
        text = readStart(opened.fd, stats.size).toString("utf8");
      } finally {
        if (fd === undefined) closeSync(opened.fd);
      }
    } catch (err) {
      if (isMissing(err)) return "missing";
      this.reportOnce(file, err);
      return "unusable";
    }
    return this.parsed(file, text, stats);
  }

  /** findNow's twin for the sweep and the listing, which must not hold the event loop. */
  private async find(file: string): Promise<(SessionRecord & { stats: Stats }) | "missing" | "unusable"> {
    let text: string;
    let stats: Stats;
    try {
      const handle = await fs.open(file, READ);
      try {
        stats = await handle.stat();
        if (!stats.isFile()) throw new NotARegularFile(stats);
        text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (isMissing(err)) return "missing";
      this.reportOnce(file, err);
      return "unusable";
    }
    const found = this.parsed(file, text, stats);
    return typeof found === "object" ? { ...found, stats } : found;
  }

  private parsed(file: string, text: string, stats: Stats): Found {
    if (text === "") return "unusable"; // created, then the process died before its one write
    try {
      return parseRecord(text, stats);
    } catch (err) {
      this.reportOnce(file, err);
      return "unusable";
    }
  }

  /** False when the file had to be `existing` and was gone. `held`: the file, open since `get`. */
  private writeNow(
    id: string,
    data: Partial<SessionData>,
    ttlMs: number,
    json: string | undefined,
    existing: boolean,
    held?: OpenFile,
  ): boolean {
    const file = this.fileFor(id);
    if (!file) throw new SessionStoreUnavailable("set", new Error("refused a malformed session id"));
    const now = this.now();
    const expiresAt = now + ttlMs;
    let written: boolean;
    try {
      const bytes = Buffer.from(recordText(data, now, expiresAt, json));
      written = this.put(file, id, bytes, now, expiresAt, existing, held);
    } catch (err) {
      throw new SessionStoreUnavailable("set", err);
    }
    this.reported.delete(file);
    return written;
  }

  /**
   * `existing`: only over a file that is still there (WriteOptions.existing); false if it was
   * gone. `held`: the file, open since `get` (a rename replaces it by name).
   */
  private put(
    file: string,
    id: string,
    bytes: Buffer,
    now: number,
    expiresAt: number,
    existing: boolean,
    held?: OpenFile,
  ): boolean {
    if (bytes.length <= ONE_PAGE) {
      const done = this.rewriteInPlace(file, bytes, now, expiresAt, existing, held?.take());
      if (done !== "replace") return done === "written";
    } else if (existing && !lexists(file)) {
      return false;
    }
    this.replace(file, id, bytes, now, expiresAt);
    return true;
  }

  /**
   * One write() of at most a page at offset 0, then the expiry hint. Creates the file when
   * there is none, unless it must be `existing` ("gone": nothing is written). "replace" when
   * the file is larger than a page, or is not a regular file (a link, a FIFO): it is then
   * replaced by a rename, which never goes through it. `held`: the file as `get` opened it
   * (and closed here); removed since (ended elsewhere, or replaced), it is looked up again.
   */
  private rewriteInPlace(
    file: string,
    bytes: Buffer,
    now: number,
    expiresAt: number,
    existing: boolean,
    held?: number,
  ): "written" | "gone" | "replace" {
    let fd: number;
    if (held !== undefined) {
      fd = held;
    } else {
      try {
        fd = openSync(file, REWRITE);
      } catch (err) {
        if (errorCode(err) === "ELOOP") return "replace"; // a symbolic link
        if (!isMissing(err)) throw err;
        if (existing) return "gone"; // ended elsewhere: it stays ended
        fd = openSync(file, "wx", 0o600); // O_EXCL: never through a link either
      }
    }
    try {
      const stats = fstatSync(fd);
      if (held !== undefined && stats.nlink === 0) {
        // Held since `get`, and removed since: by name, as any other write.
        const gone = fd;
        fd = -1;
        closeSync(gone);
        return this.rewriteInPlace(file, bytes, now, expiresAt, existing);
      }
      if (!stats.isFile() || stats.size > ONE_PAGE) return "replace";
      this.overwrite(fd, stats.size, bytes, now, expiresAt);
      return "written";
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /** The record written at offset 0 of an open file of at most a page, padded to its old length. */
  private overwrite(fd: number, size: number, bytes: Buffer, now: number, expiresAt: number): void {
    const padded = size > bytes.length ? Buffer.alloc(size, SPACE) : bytes;
    if (padded !== bytes) bytes.copy(padded);
    writeAll(fd, padded, 0);
    futimesSync(fd, now / 1000, expiresAt / 1000);
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

  /**
   * The new expiry over the old one: the record's first bytes, same length, one write()
   * that leaves the data alone. Never creates the file: a deleted session stays deleted.
   */
  private extendNow(id: string, ttlMs: number, held?: OpenFile): void {
    const file = this.fileFor(id);
    if (!file) return;
    const now = this.now();
    const expiresAt = now + ttlMs;
    let opened: { fd: number; stats: Stats } | undefined;
    const heldFd = held?.take();
    if (heldFd !== undefined) {
      // A regular file when `get` read it. Removed or replaced since: by name, as unheld.
      const stats = fstatSync(heldFd);
      if (stats.nlink > 0) opened = { fd: heldFd, stats };
      else closeSync(heldFd);
    }
    if (!opened) {
      try {
        opened = openRegular(file, REWRITE);
      } catch (err) {
        if (isMissing(err) || errorCode(err) === "ELOOP" || err instanceof NotARegularFile) return;
        throw new SessionStoreUnavailable("touch", err);
      }
    }
    const { fd, stats } = opened;
    try {
      const head = recordHead(expiresAt);
      if (HEAD.test(head) && HEAD.test(readStart(fd, HEAD_LENGTH).toString("latin1"))) {
        writeAll(fd, Buffer.from(head), 0);
        futimesSync(fd, now / 1000, expiresAt / 1000);
      } else {
        this.reformat(fd, file, id, stats, now, expiresAt);
      }
    } catch (err) {
      throw new SessionStoreUnavailable("touch", err);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A record laid out by hand (or by an older version) gets its expiry by being written
   * again whole, from what is on disk now, not from the request's copy.
   */
  private reformat(fd: number, file: string, id: string, stats: Stats, now: number, expiresAt: number): void {
    const found = this.parsed(file, readStart(fd, stats.size).toString("utf8"), stats);
    if (typeof found !== "object") return; // not a record: nothing to extend
    const bytes = Buffer.from(recordText(found.data, now, expiresAt));
    if (stats.size <= ONE_PAGE && bytes.length <= ONE_PAGE) this.overwrite(fd, stats.size, bytes, now, expiresAt);
    else this.replace(file, id, bytes, now, expiresAt);
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
    const now = this.now();
    await this.eachFile(async (name, file) => {
      const id = name.slice(0, -SUFFIX.length);
      if (!name.endsWith(SUFFIX) || !isSessionId(id)) return;
      const found = await this.find(file);
      if (typeof found === "object" && found.expiresAt > now) {
        sessions.push({ id, expiresAt: found.expiresAt, data: found.data });
      }
    });
    return sessions.sort((a, b) => b.expiresAt - a.expiresAt);
  }

  /**
   * Removes expired sessions and files left by a crash. The mtime is only a hint: a file
   * whose mtime has not passed is not even read; the others (expired, or edited by hand)
   * are read, and go only if their record says expired, or if they are no record and have
   * not been written for a minute (a younger one may be a session being created).
   */
  async sweep(): Promise<number> {
    let removed = 0;
    const now = this.now();
    const unlink = (file: string) => fs.unlink(file).then(() => true, () => false);
    await this.eachFile(async (name, file) => {
      const temp = name.endsWith(TEMP_SUFFIX);
      if (!temp && !name.endsWith(SUFFIX)) return;
      const stats = await fs.lstat(file).catch(() => undefined);
      if (!stats?.isFile()) return;
      const old = stats.ctimeMs < now - STALE_TEMP_MS;
      if (temp) {
        if (old) await unlink(file);
        return;
      }
      if (stats.mtimeMs > now) return;
      const found = await this.find(file);
      if (found === "missing") return;
      if (found === "unusable" ? old : found.expiresAt <= now) {
        if (await unlink(file)) removed += 1;
      } else if (found !== "unusable") {
        // Alive, with a stale hint (edited by hand): put the hint back, to skip it next time.
        await fs.lutimes(file, now / 1000, found.expiresAt / 1000).catch(() => undefined);
      }
    });
    return removed;
  }

  /** Removes every session. */
  async clear(): Promise<number> {
    let removed = 0;
    await this.eachFile(async (name, file) => {
      if (name.endsWith(SUFFIX) || name.endsWith(TEMP_SUFFIX)) {
        await fs.unlink(file).catch(() => undefined);
        removed += 1;
      }
    });
    return removed;
  }

  /**
   * Whether sessions can be stored: the folder exists and a file can really be written in
   * it (a read-only disk or a full one fails here even for root). For /healthz and the start.
   * Each check writes a probe of its own: two checks at once never delete each other's.
   */
  async check(): Promise<void> {
    const probe = path.join(this.dir, `.probe-${process.pid}-${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    await fs.writeFile(probe, "", { mode: 0o600, flag: "wx" });
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

  /**
   * The file behind a session (its name only: the server's folders are nobody's business),
   * its size, its mtime and the expiry its record holds; undefined when there is none.
   */
  async describe(id: string): Promise<RecordInfo | undefined> {
    const file = this.fileFor(id);
    const found = file ? await this.find(file) : undefined;
    if (!file || typeof found !== "object") return undefined;
    const { stats, expiresAt } = found;
    return { location: path.basename(file), sizeBytes: stats.size, modifiedAt: stats.mtimeMs, expiresAt };
  }

  private reportOnce(file: string, err: unknown): void {
    if (this.reported.has(file)) return;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.add(file);
    this.logger.warn(
      { file: path.basename(file), err },
      "session file is unreadable or corrupt: treated as no session",
    );
  }
}
