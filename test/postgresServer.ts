// A real PostgreSQL (Debian package `postgresql`) for the tests: a throw-away cluster made
// with initdb in a temporary folder, started with pg_ctl on a free port, listening on
// 127.0.0.1 only, and removed afterwards (also when a test fails). PostgreSQL refuses to
// run as root, so under root (CI, containers) the cluster belongs to the `postgres` system
// user, or to `nobody` where there is none. Where the programs are missing, jest.config.js
// leaves the suites that need them out (test/services.js); a suite that gets here anyway
// fails with one line saying what to install.
import { execFile, execFileSync, type ExecFileOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./redisServer";

const { postgresBinDir } = require("./services") as { postgresBinDir: () => string | undefined };

export const MISSING_POSTGRES =
  "PostgreSQL is not installed: run `apt-get install postgresql` (Debian package; CI installs it)";

const run = promisify(execFile);

export interface PostgresServer {
  port: number;
  /** Its folder (the cluster and its log), removed by remove(). */
  dir: string;
  /** The URL of a new, empty database of its own (made at once, synchronously). */
  newDatabaseUrl(): string;
  /** Stops it as an operator would (pg_ctl stop, fast mode) and waits. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder: the data is kept. */
  start(): Promise<void>;
  /** Freezes every process of the cluster (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused cluster run on (SIGCONT). */
  resume(): void;
  /** Stops it at once and removes its folder. */
  remove(): Promise<void>;
}

/** Who runs the cluster: this user, or an unprivileged one when this is root. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    try {
      const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
      return { uid, gid };
    } catch {
      // no such user: try the next one
    }
  }
  throw new Error("running as root, and there is no postgres or nobody user to run PostgreSQL as");
}

/** The process ids of the cluster: the postmaster (first line of postmaster.pid) and its children. */
function clusterPids(dataDir: string): number[] {
  let postmaster: number;
  try {
    postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return [];
  }
  const children = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return (
          /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] === String(postmaster)
        );
      } catch {
        return false; // it ended while we looked
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(MISSING_POSTGRES);
  const owner = clusterOwner();
  const dir = mkdtempSync(path.join(tmpdir(), "handstamp-postgres-"));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const dataDir = path.join(dir, "data");
  const port = await freePort();
  const options: ExecFileOptions = {
    cwd: dir,
    ...(owner ?? {}),
    env: { PATH: process.env.PATH ?? "", LC_ALL: "C" },
  };
  const pgCtl = (...args: string[]) => run(path.join(bin, "pg_ctl"), ["-D", dataDir, ...args], options);
  let paused = false;

  await run(
    path.join(bin, "initdb"),
    ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
    options,
  );
  const start = async () => {
    await pgCtl(
      "-l",
      path.join(dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      "start",
    );
  };
  // A test run that dies (a crash, a timeout) must not leave a cluster running behind it.
  const onExit = () => {
    for (const pid of clusterPids(dataDir)) {
      try {
        process.kill(pid, "SIGCONT");
        process.kill(pid, "SIGQUIT");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (err) {
    onExit();
    throw err;
  }
  process.once("exit", onExit);

  const signalAll = (signal: NodeJS.Signals) => {
    for (const pid of clusterPids(dataDir)) {
      try {
        process.kill(pid, signal);
      } catch {
        // it ended meanwhile
      }
    }
  };
  const server: PostgresServer = {
    port,
    dir,
    newDatabaseUrl() {
      const name = `t_${randomBytes(6).toString("hex")}`;
      execFileSync(path.join(bin, "createdb"), [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        name,
      ]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (paused) server.resume();
      await pgCtl("-m", "fast", "-w", "stop");
    },
    start,
    pause() {
      paused = true;
      signalAll("SIGSTOP");
    },
    resume() {
      paused = false;
      signalAll("SIGCONT");
    },
    async remove() {
      process.off("exit", onExit);
      if (paused) server.resume();
      await pgCtl("-m", "immediate", "-w", "stop").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Starts one cluster for the tests of this file; removes it after them. */
export function usePostgres(): PostgresServer {
  const holder = {} as PostgresServer;
  beforeAll(async () => {
    Object.assign(holder, await startPostgres());
  }, 120_000);
  afterAll(async () => {
    await holder.remove?.();
  });
  return holder;
}
