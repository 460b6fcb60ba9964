// `npm run sessions -- <command>`: look at and clean the session store from a shell, in
// the spirit of Django's `clearsessions`. Exits non-zero on any error.
import { loadConfig } from "../bootstrap";
import type { Config } from "../config";
import { shortId } from "./ids";
import { redactUrl } from "./redis";
import { createSessionStorage, type SessionStorage } from "./storage";

export const USAGE = `usage: npm run sessions -- <command>
  list               live sessions: id (first 8 characters), user, created, expiry
  show <id-prefix>   one session's data (the CSRF token hidden)
  clear-expired      remove expired sessions now (the server also does it every few minutes)
  clear-all --yes    remove every session: everybody is logged out`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => number;
}

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

/** How far off a moment is, as a person says it: "in 29 min", "in 3 h 5 min", "in 29 d 23 h". */
export function fromNow(ms: number, now: number): string {
  const minutes = Math.floor((ms - now) / 60_000);
  if (minutes < 1) return ms > now ? "in <1 min" : "now";
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `in ${hours} h ${minutes % 60} min`;
  return `in ${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export async function runSessionsCli(args: string[], config: Config, io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "help" || command === "--help") {
    (command ? io.out : io.err)(USAGE);
    return command ? 0 : 2;
  }
  const storage = createSessionStorage(config, {
    logger: {
      warn: (obj, msg) => io.err(`warning: ${msg} (${describeFields(obj)})`),
      info: () => undefined,
      error: () => undefined,
    },
    now: io.now,
  });
  try {
    if (storage.kind === "memory") {
      io.err("The memory store lives inside the server process: there is nothing to see from here.");
      return 1;
    }
    return await runOn(storage, describeStore(config), command, rest, { ...io, now: io.now ?? Date.now });
  } catch (err) {
    io.err(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    await storage.close();
  }
}

/** A log line's fields for a person: an error by its message (JSON shows an Error as `{}`). */
function describeFields(fields: object): string {
  const { err, ...rest } = fields as { err?: unknown };
  const reason = err instanceof Error ? err.message : err === undefined ? undefined : String(err);
  return JSON.stringify(reason === undefined ? rest : { ...rest, err: reason });
}

function describeStore(config: Config): string {
  return config.sessionStore === "redis" ? `Redis at ${redactUrl(config.redisUrl)}` : config.sessionDir;
}

const created = (data: { createdAt?: number }) => (data.createdAt ? time(data.createdAt) : "-".padEnd(19));

async function runOn(
  store: SessionStorage,
  where: string,
  command: string,
  rest: string[],
  io: Required<CliIo>,
): Promise<number> {
  switch (command) {
    case "list": {
      const sessions = await store.store.list();
      if (sessions.length === 0) {
        io.out(`No live sessions in ${where}.`);
        return 0;
      }
      io.out(["id      ", "user                ", "created (UTC)      ", "expires (UTC)"].join("  "));
      const now = io.now();
      for (const s of sessions) {
        const user = (s.data.user?.name ?? "-").padEnd(20).slice(0, 20);
        io.out([shortId(s.id), user, created(s.data), time(s.expiresAt), fromNow(s.expiresAt, now)].join("  "));
      }
      io.out(`${sessions.length} live session${sessions.length === 1 ? "" : "s"} in ${where}`);
      return 0;
    }
    case "show": {
      const prefix = rest[0];
      if (!prefix) {
        io.err("show needs the first characters of a session id (see `list`)");
        return 2;
      }
      const found = (await store.store.list()).filter((s) => s.id.startsWith(prefix));
      if (found.length !== 1) {
        io.err(found.length === 0 ? `No live session starts with "${prefix}".` : `"${prefix}" matches ${found.length} sessions: give more characters.`);
        return 1;
      }
      const { id, expiresAt, data } = found[0]!;
      const shown = { ...data, ...(data.csrfToken ? { csrfToken: "(hidden)" } : {}) };
      io.out(
        `session ${shortId(id)}…  created ${created(data)} UTC  expires ${time(expiresAt)} UTC (${fromNow(expiresAt, io.now())})`,
      );
      io.out(JSON.stringify(shown, null, 2));
      return 0;
    }
    case "clear-expired": {
      const removed = await store.store.sweep();
      io.out(`Removed ${removed} expired session${removed === 1 ? "" : "s"}.`);
      return 0;
    }
    case "clear-all": {
      if (!rest.includes("--yes")) {
        io.err("clear-all logs everybody out: run it again with --yes to confirm.");
        return 2;
      }
      const removed = await store.store.clear();
      io.out(`Removed ${removed} session${removed === 1 ? "" : "s"}.`);
      return 0;
    }
    default:
      io.err(`Unknown command "${command}".\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  let config: Config;
  try {
    // The CLI signs nothing: it needs the store's settings, not the secret.
    config = loadConfig(process.env, { needsSecret: false });
  } catch (err) {
    console.error(`handstamp: ${(err as Error).message}`);
    process.exit(1);
  }
  runSessionsCli(process.argv.slice(2), config, { out: console.log, err: console.error }).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`handstamp: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
