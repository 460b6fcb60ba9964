// The floors' session work, written by hand: what one kind of session storage does per
// request on the counter page, and nothing of a session layer. floor.ts adds it to the bare
// page; layerOff.ts (with BENCH_FLOOR) adds the `required` kind to handstamp's own app with
// its session layer off. The cookie is `sid=<id>` in clear (signed for `required`), and the
// record BENCH_RECORD_SIZE bytes of JSON.
//
// The kinds (BENCH_FLOOR):
// - `memory`: the record in a Map, copied through JSON (what a layer costs with no disk);
// - `lock-write`: the per-session lock (a hard link made and removed), and the record
//   written in place with one write() at offset 0, as the file store does; the record is
//   read from memory, which is only right for one process alone;
// - `lock-read-write`: the same, but the record is read from its file too: what the file
//   store does, shared by several processes (workers, or instances on one disk), to lose
//   no update (not the least any design could do: docs/speed.md);
// - `required`: that, plus what issue #14 keeps on with the session layer: the cookie's
//   signature checked (`s:` + HMAC, as express-session and handstamp sign it), the log-in's
//   row read from SQLite (is it still live?), and the page's CSRF token (an HMAC).
import { createHmac } from "node:crypto";
import { closeSync, constants, linkSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { unsign } from "cookie-signature";
import { BetterSqlite3 } from "../../src/db/sqlite";

const FLOOR_KINDS = ["memory", "lock-write", "lock-read-write", "required"] as const;
type Visits = { visits: number };

/** What a request of a floor gets: its visit count and CSRF token, or the status of its error page. */
export type FloorVisit = { visits: number; csrfToken?: string } | { status: 400 | 403; message: string };

export function floorWork(
  floor: string,
  dir: string,
  secret: string,
  recordSize = Number(process.env.BENCH_RECORD_SIZE ?? 512),
) {
  if (!(FLOOR_KINDS as readonly string[]).includes(floor)) {
    throw new Error(`BENCH_FLOOR=${floor}: not a floor (${FLOOR_KINDS.join(", ")})`);
  }
  const memory = new Map<string, Visits>();
  const page = Buffer.allocUnsafe(recordSize);

  /** The record of one session, visited once more; `file` is where it lives on disk. */
  function visit(file: string): number {
    if (floor === "memory") {
      const record = JSON.parse(JSON.stringify(memory.get(file) ?? { visits: 0 })) as Visits;
      record.visits += 1;
      memory.set(file, record);
      return record.visits;
    }
    const lock = `${file}.lock`;
    linkSync(file, lock);
    try {
      const fd = openSync(file, constants.O_RDWR | constants.O_NOFOLLOW);
      try {
        let record: Visits;
        if (floor === "lock-read-write" || floor === "required") {
          record = JSON.parse(page.toString("utf8", 0, readSync(fd, page, 0, recordSize, 0))) as Visits;
        } else {
          record = memory.get(file) ?? { visits: 0 };
          memory.set(file, record);
        }
        record.visits += 1;
        const bytes = Buffer.from(JSON.stringify(record).padEnd(recordSize, " "));
        writeSync(fd, bytes, 0, bytes.length, 0);
        return record.visits;
      } finally {
        closeSync(fd);
      }
    } finally {
      unlinkSync(lock);
    }
  }

  /**
   * The log-in index, as handstamp keeps it (WAL), one row per session: made at its first
   * visit, which the bench makes before it measures.
   */
  const logins = (() => {
    if (floor !== "required") return undefined;
    const db = new BetterSqlite3(path.join(dir, "logins.db"));
    db.pragma("journal_mode = WAL");
    db.exec(
      "CREATE TABLE IF NOT EXISTS logins (session_id TEXT PRIMARY KEY, user_id INTEGER, expires_at INTEGER)",
    );
    const find = db.prepare<[string], { user_id: number; expires_at: number }>(
      "SELECT user_id, expires_at FROM logins WHERE session_id = ?",
    );
    const add = db.prepare("INSERT INTO logins (session_id, user_id, expires_at) VALUES (?, 1, ?)");
    return (id: string) => find.get(id) ?? (add.run(id, Date.now() + 3_600_000), find.get(id));
  })();

  /** The session id a request's cookie names, its signature checked when `required`. */
  function sessionId(cookie = ""): string | undefined {
    const value = /(?:^|; )sid=([^;]+)/.exec(cookie)?.[1];
    if (floor !== "required") return value && /^[0-9a-f]{32}$/.test(value) ? value : undefined;
    const id = value?.startsWith("s%3A") ? unsign(decodeURIComponent(value).slice(2), secret) : false;
    return id && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
  }

  /** One request's session work, from its Cookie header. */
  return function floorVisit(cookie: string | undefined): FloorVisit {
    const id = sessionId(cookie);
    // A cookie this floor cannot read would make a page with no session work: an error, not a 200.
    if (cookie && !id) return { status: 400, message: "not a session of this floor" };
    if (!id) return { visits: 0 }; // no cookie: the bench asking if it is up
    if (logins && !(logins(id)!.expires_at > Date.now())) return { status: 403, message: "logged out" };
    const csrfToken =
      floor === "required" ? createHmac("sha256", secret).update(id).digest("base64url") : undefined;
    return { visits: visit(path.join(dir, `${id}.json`)), csrfToken };
  };
}
