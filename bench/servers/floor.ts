// The floors: the bench's bare page with handstamp's headers and log (noSession.ts with
// BENCH_APP_LAYERS=1) plus a few lines of what one kind of session storage does per
// request, written by hand, and nothing of a session layer: no `req.session`, no change
// detection, no flash, no routers. The cookie is `sid=<id>` in clear (signed for
// `required`), and the record 512 bytes of JSON. They show how far below that page a
// storage design starts, before any session layer; docs/speed.md reads the figures, and
// says what they do not prove.
//
// BENCH_FLOOR says which storage:
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
import { pino } from "pino";
import { BetterSqlite3 } from "../../src/db/sqlite";
import { securityHeaders } from "../../src/http/headers";
import { requestLogging } from "../../src/http/requestLog";
import { listen, referenceApp } from "./page";

type Visits = { visits: number };
/** Every record file is this long: JSON padded with spaces, as the bench writes it. */
const RECORD_SIZE = Number(process.env.BENCH_RECORD_SIZE ?? 512);
const floor = process.env.BENCH_FLOOR;
const dir = process.env.SESSION_DIR!;
const memory = new Map<string, Visits>();
const page = Buffer.allocUnsafe(RECORD_SIZE);

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
        record = JSON.parse(page.toString("utf8", 0, readSync(fd, page, 0, RECORD_SIZE, 0))) as Visits;
      } else {
        record = memory.get(file) ?? { visits: 0 };
        memory.set(file, record);
      }
      record.visits += 1;
      const bytes = Buffer.from(JSON.stringify(record).padEnd(RECORD_SIZE, " "));
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
const secret = process.env.SESSION_SECRET ?? "";

/** The session id a request's cookie names, its signature checked when `required`. */
function sessionId(cookie = ""): string | undefined {
  const value = /(?:^|; )sid=([^;]+)/.exec(cookie)?.[1];
  if (floor !== "required") return value && /^[0-9a-f]{32}$/.test(value) ? value : undefined;
  const id = value?.startsWith("s%3A") ? unsign(decodeURIComponent(value).slice(2), secret) : false;
  return id && /^[0-9a-f]{32}$/.test(id) ? id : undefined;
}

const app = referenceApp();
app.set("trust proxy", "loopback");
app.set("etag", false); // as handstamp and the bare page
app.use(securityHeaders(true));
app.use(requestLogging(pino({ level: "info" })));
app.get("/", (req, res) => {
  const id = sessionId(req.headers.cookie);
  // A cookie this floor cannot read would make a page with no session work: an error, not a 200.
  if (req.headers.cookie && !id) return res.status(400).send("not a session of this floor");
  if (id && logins && !(logins(id)!.expires_at > Date.now())) return res.status(403).send("logged out");
  if (id && floor === "required") {
    const token = createHmac("sha256", secret).update(id).digest("base64url");
    res.locals.csrfToken = () => token;
  }
  const visits = id ? visit(path.join(dir, `${id}.json`)) : 0; // no cookie: the bench asking if it is up
  res.render("index", { visits, currentUser: "bench", path: "/" });
});
listen(app);
