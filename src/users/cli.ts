// `npm run users -- <command>`: look at and delete accounts from a shell, on SQLite or
// PostgreSQL alike. Deleting a user ends all their sessions, wherever they are stored.
// Exits non-zero on any error, with one line (an unreachable database included).
import dotenv from "dotenv";
import { describeBrowser } from "../account/browser";
import { createLogins } from "../auth/logins";
import { createUsers } from "../auth/users";
import { ConfigError, parseConfig, type Config } from "../config";
import { connectDatabase, isDatabaseOutage } from "../db";
import { createSessionStorage } from "../sessions/storage";

export const USAGE = `usage: npm run users -- <command>
  list          every user: name, created, live sessions
  show NAME     one user and their live sessions
  delete NAME   delete the user and end all their sessions`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => number;
}

const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export async function runUsersCli(args: string[], config: Config, io: CliIo): Promise<number> {
  const [command, name, ...extra] = args;
  if (!command || command === "help" || command === "--help") {
    (command ? io.out : io.err)(USAGE);
    return command ? 0 : 2;
  }
  if (!["list", "show", "delete"].includes(command)) {
    io.err(`Unknown command "${command}".\n${USAGE}`);
    return 2;
  }
  if (command !== "list" && (!name || extra.length > 0)) {
    io.err(`${command} needs one user name (see \`list\`)`);
    return 2;
  }
  const now = io.now ?? Date.now;
  const db = connectDatabase(config, { onError: () => undefined });
  const users = createUsers(db, now);
  const logins = createLogins(db);
  try {
    if (command === "list") {
      const all = await users.list();
      if (all.length === 0) {
        io.out(`No users in ${db.where}.`);
        return 0;
      }
      io.out(["user                ", "created (UTC)      ", "live sessions"].join("  "));
      for (const user of all) {
        const live = (await logins.liveFor(user.id, now())).length;
        io.out([user.username.padEnd(20), time(user.createdAt), String(live)].join("  "));
      }
      io.out(`${plural(all.length, "user")} in ${db.where}`);
      return 0;
    }
    const user = await users.findByName(name!);
    if (!user) {
      io.err(`No user named "${name}".`);
      return 1;
    }
    const sessions = await logins.liveFor(user.id, command === "delete" ? 0 : now());
    if (command === "show") {
      const [summary] = (await users.list()).filter((u) => u.id === user.id);
      io.out(`user ${user.username} (id ${user.id}), created ${summary ? time(summary.createdAt) : "-"} UTC`);
      io.out(`${plural(sessions.length, "live session")}${sessions.length ? ":" : ""}`);
      for (const login of sessions) {
        io.out(
          `  since ${time(login.createdAt)}  last seen ${time(login.lastSeen)}  ${describeBrowser(login.userAgent)}`,
        );
      }
      return 0;
    }
    // The session records first: should the store fail, the user is still there and the
    // command can be run again; the log-in rows go with the user (ON DELETE CASCADE).
    const storage = createSessionStorage(config, {
      logger: { warn: () => undefined, info: () => undefined, error: () => undefined },
      now,
    });
    try {
      for (const login of sessions) await storage.store.destroy(login.sessionId);
    } finally {
      await storage.close();
    }
    await users.remove(user.id);
    const live = sessions.filter((login) => login.expiresAt > now()).length;
    io.out(`Deleted ${user.username}; ${plural(live, "session")} ended.`);
    return 0;
  } catch (err) {
    io.err(
      isDatabaseOutage(err)
        ? `error: the database at ${db.where} does not answer (${(err.cause as Error)?.message ?? err.message})`
        : `error: ${(err as Error).message}`,
    );
    return 1;
  } finally {
    await db.close().catch(() => undefined);
  }
}

if (require.main === module) {
  dotenv.config({ quiet: true });
  let config: Config;
  try {
    // The CLI signs nothing: it needs the database's and the store's settings, not the secret.
    config = parseConfig(process.env, { needsSecret: false });
  } catch (err) {
    console.error(`handstamp: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
    process.exit(1);
  }
  runUsersCli(process.argv.slice(2), config, { out: console.log, err: console.error }).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`handstamp: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
