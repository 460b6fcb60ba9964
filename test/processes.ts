// Real server processes, for the tests and for `npm run bench` alike: node with tsx's
// loader (or the build), its own environment, port 0 unless told, a deadline to start.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = path.resolve(__dirname, "..");
export const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  exited: Promise<Run>;
  /** The base URL once the server says it listens; rejects if it exits first, or is late. */
  listening: Promise<string>;
  /** What it has written to stdout so far. */
  output: () => string;
  /** The first match of `pattern` in its stdout or stderr, once there; rejects if it exits first, or is late. */
  waitFor: (pattern: RegExp, deadlineMs?: number) => Promise<RegExpExecArray>;
}

export interface StartOptions {
  /** What runs the script: node unless told (the bench's Flask contender runs gunicorn). */
  program?: string;
  /** Node's arguments before the script: tsx's loader unless told (`[]` for the build). */
  loader?: string[];
  /**
   * Its stdout goes to this file instead of a pipe into this process: the bench's servers
   * log every request, and reading that here would take CPU from the load generator.
   */
  logFile?: string;
  /** Killed if it is still running then, so a hang fails its test; the bench's run for as long as it needs. */
  lifetimeMs?: number;
  /** How long it has to say it listens: a minute unless told (`npm start` may build first). */
  startDeadlineMs?: number;
}

/**
 * Polls `check` until it returns something, waiting a little longer each time (from 5 ms
 * to 200 ms); rejects after `deadlineMs`, or as soon as `gaveUp` says so.
 */
export async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  { deadlineMs, what, gaveUp }: { deadlineMs: number; what: string; gaveUp?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    const found = await check();
    if (found !== undefined) return found;
    const reason = gaveUp?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`${what}: not after ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

export function startProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  {
    program = process.execPath,
    loader = ["--import", TSX_LOADER],
    logFile,
    lifetimeMs = 60_000,
    startDeadlineMs = 60_000,
  }: StartOptions = {},
): Started {
  // node itself with tsx's loader (not the tsx wrapper, which runs a grandchild): signals,
  // SIGKILL included, reach the real process.
  const out = logFile ? openSync(logFile, "w") : "pipe";
  const child = spawn(program, [...(program === process.execPath ? loader : []), script, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", out, "pipe"],
  });
  if (typeof out === "number") closeSync(out);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const output = () => (logFile ? readFileSync(logFile, "utf8") : stdout);
  let run: Run | undefined;
  const deadline = Number.isFinite(lifetimeMs)
    ? setTimeout(() => child.kill("SIGKILL"), lifetimeMs)
    : undefined;
  deadline?.unref();
  const exited = new Promise<Run>((resolve) =>
    child.on("exit", (code, signal) => {
      clearTimeout(deadline);
      // stderr's pipe may still hold its last lines: they come before "close".
      child.once("close", () => resolve((run = { code, signal, stdout: output(), stderr })));
    }),
  );
  const waitFor = (pattern: RegExp, deadlineMs = startDeadlineMs) =>
    until(() => pattern.exec(output()) ?? pattern.exec(stderr) ?? undefined, {
      deadlineMs,
      what: `${path.basename(script)} never printed ${pattern}`,
      gaveUp: () => (run ? `it exited (${run.signal ?? run.code}): ${run.stderr}` : undefined),
    });
  const listening = waitFor(/listening on (http:\/\/\S+)/).then(
    (match) => match[1]!,
    (err: Error) => {
      child.kill("SIGKILL"); // a server that cannot start in time is not left running
      throw err;
    },
  );
  listening.catch(() => undefined); // tests of a failed start never wait for it
  return { child, exited, listening, output, waitFor };
}

export function startServer(env: Record<string, string>, cwd: string, options: StartOptions = {}): Started {
  return startProcess(path.join(ROOT, "src", "server.ts"), [], env, cwd, options);
}

/** The compiled server (`npm start`'s dist/server.js), built first if the sources changed. */
export function startBuiltServer(
  env: Record<string, string>,
  cwd: string,
  options: StartOptions = {},
): Started {
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build-if-needed.js")], { stdio: "ignore" });
  return startProcess(path.join(ROOT, "dist", "server.js"), [], env, cwd, { ...options, loader: [] });
}

export async function stop(started: Started): Promise<Run> {
  started.child.kill("SIGTERM");
  return started.exited;
}
