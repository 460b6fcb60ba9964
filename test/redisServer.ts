// A real redis-server (Debian package `redis-server`) for the tests: started on a free
// port with its own temporary folder, stopped afterwards. Where the program is missing,
// jest.config.js leaves the suites that need it out and lists them as skipped (with CI=true,
// it fails instead); a suite that gets here anyway fails with one line saying what to install.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const MISSING_REDIS =
  "redis-server is not installed: run `apt-get install redis-server` (Debian package; CI installs it)";

export interface RedisServer {
  url: string;
  /** Its folder (the append-only file), removed by stop(). */
  dir: string;
  port: number;
  /** Stops it (SIGTERM, or SIGKILL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and folder (its append-only file keeps the data). */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered, like a long hiccup. */
  pause(): void;
  /** Lets a paused server run on (SIGCONT): it then reads what was sent meanwhile. */
  resume(): void;
}

function redisBinary(): string {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(MISSING_REDIS);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const binary = redisBinary();
  const dir = mkdtempSync(path.join(tmpdir(), "handstamp-redis-"));
  const port = await freePort();
  let child: ChildProcess;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      child = spawn(binary, [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        // Every write is on disk before Redis answers: a restart loses nothing it acknowledged.
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--protected-mode",
        "no",
      ]);
      let output = "";
      const onData = (data: Buffer) => {
        output += data;
        if (output.includes("Ready to accept connections")) resolve();
      };
      child.stdout!.on("data", onData);
      child.once("exit", (code) =>
        reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)),
      );
    });
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    port,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill(signal);
        child.kill("SIGCONT"); // a paused server acts on its SIGTERM only once it runs again
        await exited;
      }
    },
    restart: launch,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
  };
}

/** Starts one redis-server for the tests of this file; stops it and removes its folder after. */
export function useRedis(): RedisServer {
  const holder = {} as RedisServer;
  beforeAll(async () => {
    Object.assign(holder, await startRedis());
  });
  afterAll(async () => {
    await holder.stop?.();
    if (holder.dir) rmSync(holder.dir, { recursive: true, force: true });
  });
  return holder;
}
