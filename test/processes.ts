// Real server processes for tests: `src/server.ts` run by tsx with its own environment.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = path.resolve(__dirname, "..");
const TSX_LOADER = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  exited: Promise<Run>;
  /** The base URL once the server says it listens; rejects if it exits first. */
  listening: Promise<string>;
}

export function startProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  loader: string[] = ["--import", TSX_LOADER],
): Started {
  // node itself with tsx's loader (not the tsx wrapper, which runs a grandchild): signals,
  // SIGKILL included, reach the real process.
  const child = spawn(process.execPath, [...loader, script, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "silent", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  // A process that hangs fails its test instead of stalling the suite.
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  deadline.unref();
  const exited = new Promise<Run>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    }),
  );
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((run) => reject(new Error(`process exited: ${run.stderr}`)));
  });
  listening.catch(() => undefined); // tests of a failed start never wait for it
  return { child, exited, listening };
}

export function startServer(env: Record<string, string>, cwd: string): Started {
  return startProcess(path.join(ROOT, "src", "server.ts"), [], env, cwd);
}

/** The compiled server (`npm start`'s dist/server.js), built first if the sources changed. */
export function startBuiltServer(env: Record<string, string>, cwd: string): Started {
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build-if-needed.js")], { stdio: "ignore" });
  return startProcess(path.join(ROOT, "dist", "server.js"), [], env, cwd, []);
}

export async function stop(started: Started): Promise<Run> {
  started.child.kill("SIGTERM");
  return started.exited;
}
