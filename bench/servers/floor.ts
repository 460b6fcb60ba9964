// The floors: the bench's "session layer off" app (the same page, headers and log) plus
// only the least that a kind of session storage must do per request, and nothing of a
// session layer: no signed cookie, no log-in check, no change detection, no CSRF. The
// cookie is `sid=<id>` in clear, and the record a few hundred bytes of JSON. What is left
// between one of these and the app with its layer off cannot be won back by any session
// layer on that storage; docs/speed.md reads the figures.
//
// BENCH_FLOOR says which storage:
// - `memory`: the record in a Map, copied through JSON (what a layer costs with no disk);
// - `lock-write`: the per-session lock (a hard link made and removed), and the record
//   written in place with one write() at offset 0, as the file store does; the record is
//   read from memory, which is only right for one process alone;
// - `lock-read-write`: the same, but the record is read from its file too: the least a
//   file store shared by several processes (workers, or instances on one disk) must do
//   before it answers, to lose no update.
import { closeSync, constants, linkSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { pino } from "pino";
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
      if (floor === "lock-read-write") {
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

const app = referenceApp();
app.set("trust proxy", "loopback");
app.use(securityHeaders(true));
app.use(requestLogging(pino({ level: "info" })));
app.get("/", (req, res) => {
  const id = /(?:^|; )sid=([0-9a-f]{32})/.exec(req.headers.cookie ?? "")?.[1];
  const visits = id ? visit(path.join(dir, `${id}.json`)) : 0; // no cookie: the bench asking if it is up
  res.render("index", { visits, currentUser: "bench", path: "/" });
});
listen(app);
