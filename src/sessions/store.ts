// The one contract every session store implements (memory, file, Redis): promises only,
// ids already checked by the caller and again by the store, lifetimes given with each
// write. Stores only store: the lock, the cookie and what to save are the session
// layer's (sessionLayer.ts).
import type { SessionData } from "express-session";
import type { SessionStoreKind } from "../config";

/** A session as a store holds it: its data and when it expires (ms). */
export interface StoredSession {
  id: string;
  expiresAt: number;
  data: SessionData;
}

/** A session as `get` gives it. */
export interface LoadedSession {
  data: SessionData;
  expiresAt: number;
  /**
   * The data's JSON exactly as stored, when the store has it at hand: what the session
   * layer compares the session with at the end of the request, without making it again.
   */
  json?: string;
  /** The record kept open for this request (`get`'s `hold`). */
  held?: HeldRecord;
}

/** Where a session is kept, for the inspector. */
export interface RecordInfo {
  /** The file's name within SESSION_DIR, the Redis key, or a phrase for the memory store. */
  location: string;
  sizeBytes?: number;
  /** The file's mtime, which the file store sets to the expiry as the sweep's hint. */
  modifiedAt?: number;
  expiresAt?: number;
  /** Redis: the key's time to live. */
  ttlSeconds?: number;
}

/**
 * A record a store keeps open for the rest of a request, when asked by `get(id, { hold:
 * true })`: the file store's open file, so that the request's write or touch goes through it
 * without looking the file up by name again (unless it was removed or replaced since, or
 * outgrew a page). The write or touch closes it; the session layer releases it otherwise.
 * Stores with nothing to keep open (memory, Redis) return none.
 */
export interface HeldRecord {
  release(): void;
}

/** How the session layer asks for a write. */
export interface WriteOptions {
  /**
   * The data as JSON already, written instead of `data` (the session layer gives the JSON it
   * compared when it decided to save, so the record is exactly what it will compare with).
   */
  json?: string;
  /**
   * The record was loaded (or written) by this request: it is replaced only if it is still
   * there. A session ended elsewhere meanwhile (log-out everywhere, a revoke, the sweep)
   * stays ended: a request that loaded it before does not bring it back.
   */
  existing?: boolean;
  /** What `get` kept open for this id in this request, if anything. */
  held?: HeldRecord;
}

export interface SessionStore {
  readonly kind: SessionStoreKind;
  /**
   * The live session, or undefined when it is unknown, expired or unreadable. `hold`: keep
   * the record open for this request's write or touch (see HeldRecord), when the store can.
   */
  get(id: string, options?: { hold?: boolean }): Promise<LoadedSession | undefined>;
  /**
   * Writes the session whole; it expires `ttlMs` from now. Resolves to false when asked for
   * an `existing` record that is gone (nothing is written then), true otherwise.
   */
  set(id: string, data: Partial<SessionData>, ttlMs: number, options?: WriteOptions): Promise<boolean>;
  /** Pushes the expiry to `ttlMs` from now without writing the data; a deleted session stays deleted. */
  touch(id: string, ttlMs: number, held?: HeldRecord): Promise<void>;
  destroy(id: string): Promise<void>;
  /** Every live session, newest expiry first. */
  list(): Promise<StoredSession[]>;
  /** Where one session is kept, or undefined if it is not stored. */
  describe(id: string): Promise<RecordInfo | undefined>;
  /** Removes expired sessions now; resolves to how many. */
  sweep(): Promise<number>;
  /** Removes every session; resolves to how many. */
  clear(): Promise<number>;
  /** Rejects when the store cannot serve sessions (for /healthz and the start). */
  check(): Promise<void>;
  /** Closes connections. */
  close(): Promise<void>;
}

/**
 * A session as JSON, stamped with when it was first stored (every store uses this). `json`:
 * the data as JSON already, used as it is when the session has its stamp.
 */
export function stringifySession(data: Partial<SessionData>, now: number, json?: string): string {
  if (data.createdAt === undefined) return JSON.stringify({ ...data, createdAt: now });
  return json ?? JSON.stringify(data);
}
