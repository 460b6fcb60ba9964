// npm run bench:profile -- <file|memory|redis|off|lean-link|lean-min|none|layers> [path]
// [seconds]: one handstamp server under the bench's load (100 logged-in sessions, 50
// connections), or the bench's reference servers: handstamp with its session layer and CSRF
// token off ("off"), or with the leanest layer in place of its own ("lean-link", "lean-min":
// bench/servers/leanLayer.ts, their sessions from its /bench-login), the bare page alone
// ("none") or with handstamp's headers and log ("layers"), under
// node --cpu-prof. Prints where the main thread's time went, as shares and µs per request:
// by part of the request (Node's HTTP, headers, log, session layer, store, lock, render...),
// by package and by function. The start-up and the 100 log-ins before the load are in the
// profile too: as "other", and as about 2% more requests' worth in each part. The profile
// itself is left in bench/results/profiles/ for a flame graph (Chrome DevTools, speedscope).
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseConfig } from "../src/config";
import { cookieName as siteCookieName } from "../src/sessions/cookies";
import { startProcess, stop } from "../test/processes";
import { cookieOf, HTTPS, postCredentials, ROOT, TSX_LOADER } from "./client";
import { wrk, writeCookies } from "./load";

const OUT = path.join(ROOT, "bench", "results", "profiles");
const [store = "file", pathname = "/", seconds = "10"] = process.argv.slice(2);
/**
 * The bench's reference servers that can be profiled instead of handstamp: script,
 * environment. Only the lean layers have sessions (from their /bench-login).
 */
const REFERENCES: Record<string, [string, Record<string, string>]> = {
  off: ["layerOff.ts", {}],
  "lean-link": ["leanLayer.ts", { BENCH_LEAN: "link" }],
  "lean-min": ["leanLayer.ts", { BENCH_LEAN: "min" }],
  none: ["noSession.ts", {}],
  layers: ["noSession.ts", { BENCH_APP_LAYERS: "1" }],
};
const reference = REFERENCES[store];

interface Profile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * What each part of the request costs, walking every sample's stack from the leaf up to
 * the first frame of a known part (Node's own frames are skipped, so a setHeader counts for
 * the layer that called it). First match wins: the order puts the inner parts first.
 */
const PARTS: [RegExp, string][] = [
  [/dist\/sessions\/(fileStore|memoryStore|redis)\.js/, "session store: read and write"],
  [/dist\/sessions\/lock\.js/, "per-session lock"],
  [/better-sqlite3|pg\/lib|dist\/auth\/logins\.js|dist\/db\//, "log-in index (database)"],
  [/cookie-signature/, "cookie signature (HMAC)"],
  [/nunjucks|asap\//, "template render (nunjucks)"],
  [/pino|sonic-boom|dist\/http\/requestLog\.js/, "request log (pino)"],
  [/dist\/http\/headers\.js/, "security headers (precomputed)"],
  [/dist\/http\/csrf\.js/, "CSRF token"],
  [/dist\/http\/flash\.js/, "flash messages"],
  [
    /dist\/sessions\/(sessionLayer|session|cookies)\.js|on-headers|bench\/servers\/leanLayer/,
    "session layer (cookie, load, save, Set-Cookie)",
  ],
  [/dist\/auth\/loginSessions\.js/, "log-in check"],
  [/router\/|body-parser|dist\/app\.js/, "router and small layers"],
  [/dist\/(home|cart|auth|account)\/|bench\/servers\//, "page handler"],
  [
    /node_modules\/(express|etag|fresh|send|vary|on-finished|content-type)\//,
    "express response (send, ETag)",
  ],
];
/**
 * Node's own work: counted as such even when a part above called it (the session layer wraps
 * res.end, so the response's headers and write would otherwise count as its).
 */
const NODE_FIRST: [RegExp, string][] = [
  [/^\(garbage collector\)/, "garbage collection"],
  [/^writev |node:net|stream_base_commons|node:internal\/streams/, "socket writes (Node)"],
  [/node:_http_|parserOn/, "HTTP parsing, response headers and body (Node)"],
];
/** Where a sample with none of the parts above went. */
const NODE_PARTS: [RegExp, string][] = [[/task_queues|runMicrotasks/, "promise jobs (Node)"]];

function partOf(stack: string[]): string {
  const match = (rules: [RegExp, string][], frame: string) =>
    rules.find(([pattern]) => pattern.test(frame))?.[1];
  for (const frame of stack) {
    const part = match(NODE_FIRST, frame) ?? match(PARTS, frame);
    if (part) return part;
  }
  for (const frame of stack) {
    const part = match(NODE_PARTS, frame);
    if (part) return part;
  }
  return "other (start-up, Node)";
}

/**
 * Where the main thread's busy time went, as shares and as µs per request: by part of the
 * request, by package (or "app", "node:…") and by function (self time).
 */
function summarise(file: string, requests: number): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const frames = new Map(
    profile.nodes.map((n) => {
      const url = n.callFrame.url.replace(/^file:\/\//, "");
      return [n.id, { name: n.callFrame.functionName || "(anonymous)", url }];
    }),
  );
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stackOf = (id: number) => {
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frames.get(at)!;
      stack.push(`${frame.name} ${frame.url}`);
    }
    return stack;
  };
  const byPart = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  const add = (map: Map<string, number>, key: string, time: number) =>
    map.set(key, (map.get(key) ?? 0) + time);
  profile.samples.forEach((id, i) => {
    const time = profile.timeDeltas[i] ?? 0;
    const frame = frames.get(id)!;
    if (frame.name === "(idle)") return;
    busy += time;
    const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
    add(byPackage, pkg ?? (frame.url.startsWith(ROOT) ? "app" : frame.url.split("/")[0] || frame.name), time);
    add(
      byFunction,
      `${frame.name} ${frame.url.replace(/.*node_modules\//, "").replace(ROOT + "/", "")}`,
      time,
    );
    add(byPart, partOf(stackOf(id)), time);
  });
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .filter(([, time]) => time >= requests) // under 1 µs per request: not worth a line
      .slice(0, n)
      .map(
        ([key, time]) =>
          `${((100 * time) / busy).toFixed(1).padStart(5)}% ${String(Math.round(time / requests)).padStart(5)} µs  ${key}`,
      )
      .join("\n");
  return [
    `main thread busy ${Math.round(busy / requests)} µs per request (share, µs per request, what):`,
    `\nby part of the request:\n${top(byPart, PARTS.length + NODE_FIRST.length + NODE_PARTS.length + 1)}`,
    `\nby package:\n${top(byPackage, 15)}`,
    `\nby function:\n${top(byFunction, 20)}`,
  ].join("\n");
}

async function main() {
  const work = path.join(tmpdir(), `handstamp-profile-${process.pid}`);
  mkdirSync(work, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const before = new Set(readdirSync(OUT));
  const env = {
    ...reference?.[1],
    NODE_ENV: "production",
    SESSION_SECRET: "profile-secret-that-is-long-enough-0123456789",
    SESSION_STORE: reference ? "file" : store, // the lean layers keep their records in files
    SESSION_DIR: path.join(work, "sessions"),
    DATABASE_PATH: path.join(work, "handstamp.db"),
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    TRUST_PROXY: "loopback",
    LOG_LEVEL: "info",
    AUTH_RATE_LIMIT: "off",
    SESSION_CREATE_LIMIT: "off",
  };
  const profiling = ["--cpu-prof", `--cpu-prof-dir=${OUT}`];
  const server = reference
    ? startProcess(path.join(__dirname, "servers", reference[0]), [], env, ROOT, {
        loader: [...profiling, "--import", TSX_LOADER],
        logFile: path.join(work, "server.log"),
        lifetimeMs: Infinity,
      })
    : startProcess(path.join(ROOT, "dist", "server.js"), [], env, ROOT, {
        loader: profiling,
        logFile: path.join(work, "server.log"),
        lifetimeMs: Infinity,
      });
  const url = await server.listening;
  const cookies: string[] = [];
  const cookieName = siteCookieName(parseConfig(env), "sid");
  if (reference?.[1].BENCH_LEAN) {
    for (let i = 0; i < 100; i++) cookies.push(cookieOf(await fetch(url + "/bench-login"), cookieName));
  } else if (!reference) {
    await postCredentials(url, cookieName, "/signup");
    for (let i = 0; i < 100; i++) cookies.push(await postCredentials(url, cookieName, "/login"));
  }
  const result = await wrk(url + pathname, {
    cookiesFile: writeCookies(path.join(work, "cookies"), cookies),
    connections: 50,
    seconds: Number(seconds),
    headers: HTTPS,
  });
  console.log(
    `${reference ? `reference server "${store}"` : `${store} store`}, GET ${pathname}: ${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms, ${result.errors} errors\n`,
  );
  await stop(server); // both handstamp and the reference servers exit cleanly on it, writing the profile
  rmSync(work, { recursive: true, force: true });
  const written = readdirSync(OUT).filter((name) => !before.has(name));
  for (const name of written)
    console.log(
      `${summarise(path.join(OUT, name), result.requests)}\n\nprofile: bench/results/profiles/${name}`,
    );
}

void main();
