// Sessions inside the process (SESSION_STORE=memory): lost on restart, for tests and
// demos. Unlike express-session's MemoryStore it enforces the same lifetimes as the
// other stores, on the same injectable clock, and it stores JSON text so that a request
// never shares objects with the record.
import session from "express-session";
import type { SessionData } from "express-session";
import { wasJustSaved } from "./saveFirst";
import { stringifySession, type RecordInfo, type StoredSession } from "./fileStore";

type Callback<T = void> = (err?: unknown, value?: T) => void;

export interface MemoryStoreOptions {
  ttlMs: (data: SessionData, now: number) => number;
  now?: () => number;
}

export class MemoryStore extends session.Store {
  readonly kind = "memory";
  private readonly records = new Map<string, { json: string; expiresAt: number }>();
  private readonly ttlMs: (data: SessionData, now: number) => number;
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions) {
    super();
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
  }

  override get(id: string, callback: Callback<SessionData | null>): void {
    callback(null, this.read(id));
  }

  override set(id: string, data: SessionData, callback?: Callback): void {
    const now = this.now();
    this.records.set(id, { json: stringifySession(data, now), expiresAt: now + this.ttlMs(data, now) });
    callback?.();
  }

  override touch(id: string, data: SessionData, callback?: Callback): void {
    const record = wasJustSaved(data) ? undefined : this.records.get(id);
    if (record) {
      const now = this.now();
      record.expiresAt = now + this.ttlMs(data, now);
    }
    callback?.();
  }

  override destroy(id: string, callback?: Callback): void {
    this.records.delete(id);
    callback?.();
  }

  read(id: string): SessionData | null {
    const record = this.records.get(id);
    if (!record) return null;
    if (record.expiresAt <= this.now()) {
      this.records.delete(id);
      return null;
    }
    return JSON.parse(record.json) as SessionData;
  }

  async list(): Promise<StoredSession[]> {
    return [...this.records.keys()]
      .map((id) => ({ id, data: this.read(id), expiresAt: this.records.get(id)?.expiresAt ?? 0 }))
      .filter((s): s is StoredSession => s.data !== null)
      .sort((a, b) => b.expiresAt - a.expiresAt);
  }

  async sweep(): Promise<number> {
    const before = this.records.size;
    for (const id of [...this.records.keys()]) this.read(id);
    return before - this.records.size;
  }

  async removeAll(): Promise<number> {
    const count = this.records.size;
    this.records.clear();
    return count;
  }

  async describe(id: string): Promise<RecordInfo | undefined> {
    const record = this.records.get(id);
    if (!record) return undefined;
    return { location: "in this server process's memory", sizeBytes: Buffer.byteLength(record.json), expiresAt: record.expiresAt };
  }
}
