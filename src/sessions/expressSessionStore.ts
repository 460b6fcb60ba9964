// The file store as an express-session `Store`, for apps that keep express-session and want
// a better session-file-store: one JSON file per session with its expiry inside, owner-only
// modes, no half-written records, links and FIFOs refused (fileStore.ts says how).
//
//   app.use(session({ secret, store: new ExpressFileStore({ dir }), genid: ExpressFileStore.genid,
//                     resave: false, saveUninitialized: false }));
//
// The ids must be ours (`genid` above: 256 random bits): the store refuses any other shape
// before it becomes a file name. A session lives as long as its cookie's maxAge says, or
// `ttlMs` (default one day) when the cookie ends with the browser. Unlike handstamp's own
// session layer, express-session takes no lock: two requests of one session at once can
// still lose an update.
import session from "express-session";
import type { SessionData } from "express-session";
import { FileStore, type StoreLogger } from "./fileStore";
import { generateSessionId } from "./ids";

type Callback<T = void> = (err?: unknown, value?: T) => void;

export interface ExpressFileStoreOptions {
  dir: string;
  /** How long a session without a cookie lifetime lives after its last use (ms). */
  ttlMs?: number;
  /** Where unreadable files are reported (once each); silent by default. */
  logger?: StoreLogger;
  now?: () => number;
}

const DAY_MS = 86_400_000;

export class ExpressFileStore extends session.Store {
  /** The id generator to give express-session (`genid`): ids this store accepts. */
  static readonly genid = generateSessionId;
  private readonly files: FileStore;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: ExpressFileStoreOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? DAY_MS;
    this.files = new FileStore({ dir: options.dir, logger: options.logger ?? { warn: () => undefined }, now: this.now });
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.files.get(sid).then((record) => callback(null, record?.data ?? null), callback);
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    settle(this.files.set(sid, data, this.lifetime(data)), callback);
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    settle(this.files.touch(sid, this.lifetime(data)), callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.files.destroy(sid), callback);
  }

  override all(callback: Callback<Record<string, SessionData>>): void {
    this.files.list().then((sessions) => callback(null, Object.fromEntries(sessions.map((s) => [s.id, s.data]))), callback);
  }

  override length(callback: Callback<number>): void {
    this.files.list().then((sessions) => callback(null, sessions.length), callback);
  }

  override clear(callback?: Callback): void {
    settle(this.files.clear(), callback);
  }

  /** The cookie's remaining lifetime when it has one, as express-session's own stores do. */
  private lifetime(data: SessionData): number {
    const expires = data.cookie?.expires;
    return expires ? new Date(expires).getTime() - this.now() : this.ttlMs;
  }
}

function settle(work: Promise<unknown>, callback?: Callback): void {
  work.then(
    () => callback?.(),
    (err: unknown) => callback?.(err),
  );
}
