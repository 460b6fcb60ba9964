// The bench's load: wrk (Debian's, C, little CPU, true tails) with bench/wrk/cookies.lua,
// and a probe that times what a new connection waits for while the others keep the
// server saturated (docs/tail.md: why they are measured apart).
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";

const SCRIPT = path.join(__dirname, "wrk", "cookies.lua");
export const WRK_THREADS = 2;
/** Long enough that every connection is open before the first request goes. */
export const HOLD_FIRST_REQUEST_MS = 300;

export interface WrkResult {
  rps: number;
  /** In ms, as wrk's --latency reports them (with its coordinated-omission correction). */
  p50: number;
  p99: number;
  max: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx/3xx answers. */
  errors: number;
}

export interface WrkOptions {
  /** One `name=value` a line; empty for no cookie. */
  cookiesFile: string;
  connections: number;
  seconds: number;
  /** 0: each connection sends its first request at once (the cold start). */
  holdMs?: number;
  headers?: Record<string, string>;
}

export function writeCookies(file: string, cookies: string[]): string {
  writeFileSync(file, cookies.join("\n") + "\n");
  return file;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function ms(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) throw new Error(`wrk printed a time it cannot read: ${text}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Reads wrk's report (with --latency). */
export function parseWrk(out: string): WrkResult {
  const find = (pattern: RegExp) => {
    const match = pattern.exec(out);
    if (!match) throw new Error(`wrk's report has no ${pattern}:\n${out}`);
    return match;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(find(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50: ms(find(/^\s+50%\s+(\S+)/m)[1]!),
    p99: ms(find(/^\s+99%\s+(\S+)/m)[1]!),
    max: ms(find(/^\s+Latency\s+\S+\s+\S+\s+(\S+)/m)[1]!),
    requests: Number(find(/(\d+) requests in/)[1]),
    errors:
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
      (non2xx ? Number(non2xx[1]) : 0),
  };
}

export function wrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const headers = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`);
  const threads = Math.min(WRK_THREADS, options.connections);
  const args = [
    `-t${threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    // Its default (2 s) would drop the slowest requests from the latencies as "timeouts".
    "--timeout",
    "30s",
    "--latency",
    "-s",
    SCRIPT,
    url,
    "--",
    options.cookiesFile,
    String(options.holdMs ?? HOLD_FIRST_REQUEST_MS),
    String(Math.ceil(options.connections / threads)),
    ...headers,
  ];
  return new Promise((resolve, reject) =>
    execFile("wrk", args, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      try {
        resolve(parseWrk(stdout));
      } catch (parseErr) {
        reject(parseErr as Error);
      }
    }),
  );
}

/** One request on a connection of its own: ms from asking to connect to the whole answer. */
function onNewConnection(url: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { ...headers, connection: "close" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", reject);
  });
}

/**
 * While `busy` runs, a new connection every `everyMs`, one at a time, each with one of
 * `cookies`: how long a visitor without a kept-alive connection waits under this load.
 */
export async function probeNewConnections<T>(
  url: string,
  cookies: string[],
  headers: Record<string, string>,
  busy: Promise<T>,
  everyMs = 250,
): Promise<{ result: T; waits: number[] }> {
  let done = false;
  const finished = busy.finally(() => (done = true));
  const waits: number[] = [];
  // The first probe waits for wrk's connections to be open and its first requests sent.
  await new Promise((resolve) => setTimeout(resolve, HOLD_FIRST_REQUEST_MS + everyMs));
  while (!done) {
    const cookie = cookies[Math.floor(Math.random() * cookies.length)];
    const wait = await onNewConnection(url, { ...headers, ...(cookie ? { cookie } : {}) }).catch(() => NaN);
    if (!done && !Number.isNaN(wait)) waits.push(wait);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return { result: await finished, waits };
}
