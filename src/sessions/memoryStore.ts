// Sessions inside the process (SESSION_STORE=memory): lost on restart, for tests and
// demos. Unlike express-session's MemoryStore it enforces the same lifetimes as the
// other stores, on the same injectable clock, and it stores JSON text so that a request
// never shares objects with the record.
import type { SessionData } from "express-session";
import { stringifySession, type RecordInfo, type SessionStore, type StoredSession, type WriteOptions } from "./store";

export class MemoryStore implements SessionStore {
  readonly kind = "memory";
  private readonly records = new Map<string, { json: string; expiresAt: number }>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  async get(id: string) {
    const record = this.live(id);
    return record && { data: JSON.parse(record.json) as SessionData, expiresAt: record.expiresAt };
  }

  async set(id: string, data: Partial<SessionData>, ttlMs: number, { json, existing }: WriteOptions = {}) {
    if (existing && !this.live(id)) return false;
    const now = this.now();
    this.records.set(id, { json: stringifySession(data, now, json), expiresAt: now + ttlMs });
    return true;
  }

  async touch(id: string, ttlMs: number) {
    const record = this.live(id);
    if (record) record.expiresAt = this.now() + ttlMs;
  }

  async destroy(id: string) {
    this.records.delete(id);
  }

  async list(): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    for (const id of [...this.records.keys()]) {
      const record = this.live(id);
      if (record) sessions.push({ id, data: JSON.parse(record.json) as SessionData, expiresAt: record.expiresAt });
    }
    return sessions.sort((a, b) => b.expiresAt - a.expiresAt);
  }

  async sweep(): Promise<number> {
    const before = this.records.size;
    for (const id of [...this.records.keys()]) this.live(id);
    return before - this.records.size;
  }

  async clear(): Promise<number> {
    const count = this.records.size;
    this.records.clear();
    return count;
  }

  async describe(id: string): Promise<RecordInfo | undefined> {
    const record = this.live(id);
    if (!record) return undefined;
    return { location: "in this server process's memory", sizeBytes: Buffer.byteLength(record.json), expiresAt: record.expiresAt };
  }

  async check() {}

  async close() {}

  /** The record, unless it has expired (then it is dropped). */
  private live(id: string) {
    const record = this.records.get(id);
    if (record && record.expiresAt <= this.now()) {
      this.records.delete(id);
      return undefined;
    }
    return record;
  }
}
