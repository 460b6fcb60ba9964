// npm run bench [-- --quick]: the contenders side by side in one run, alternating over
// rounds, with medians and ratios to handstamp's file store measured in the same run.
// Results: printed, and written to bench/results/<date>.md.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { utimes } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { sign } from "cookie-signature";
import { generateSessionId } from "../src/sessions/ids";
import { cookieOf, HTTPS, postCredentials, ROOT, TSX_LOADER } from "./client";

const QUICK = process.argv.includes("--quick");
const SETTINGS = QUICK
  ? { sessions: 100, rounds: 2, seconds: 4, connections: 50, manyFiles: 10_000, logins: 10 }
  : { sessions: 1_000, rounds: 5, seconds: 10, connections: 50, manyFiles: 100_000, logins: 30 };
const SECRET = randomBytes(32).toString("hex");

interface Contender {
  key: string;
  label: string;
  cookieName: string;
  env: Record<string, string>;
  args: string[];
  sessionDir?: string;
  child?: ChildProcess;
  url?: string;
  cookies: string[];
  /** A reference server with no session layer: no cookies to prepare, no unknown cookie. */
  sessionless?: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const log = (line: string) => process.stderr.write(`${line}\n`);

function contenders(work: string): Contender[] {
  const handstamp = (key: string, label: string, store: string): Contender => {
    const dir = path.join(work, key);
    return {
      key,
      label,
      cookieName: "__Host-sid",
      sessionDir: path.join(dir, "sessions"),
      env: {
        NODE_ENV: "production",
        SESSION_SECRET: SECRET,
        SESSION_STORE: store,
        SESSION_DIR: path.join(dir, "sessions"),
        DATABASE_PATH: path.join(dir, "handstamp.db"),
        TRUST_PROXY: "loopback",
        LOG_LEVEL: "info",
        // The bench logs in its sessions from one address: far past the per-address limit.
        AUTH_RATE_LIMIT: "off",
      },
      args: [path.join(ROOT, "dist", "server.js")],
      cookies: [],
    };
  };
  return [
    handstamp("file", "handstamp, file store", "file"),
    handstamp("memory", "handstamp, memory store", "memory"),
    {
      key: "none",
      label: "same page, no session",
      cookieName: "connect.sid",
      env: {},
      args: ["--import", TSX_LOADER, path.join(__dirname, "servers", "noSession.ts")],
      cookies: [],
      sessionless: true,
    },
    {
      key: "layers",
      label: "same page, no session, with handstamp's headers and request log",
      cookieName: "connect.sid",
      env: { BENCH_APP_LAYERS: "1" },
      args: ["--import", TSX_LOADER, path.join(__dirname, "servers", "noSession.ts")],
      cookies: [],
      sessionless: true,
    },
    {
      key: "tutorial",
      label: "express-session + session-file-store",
      cookieName: "connect.sid",
      sessionDir: path.join(work, "tutorial"),
      env: { SESSION_SECRET: SECRET, SESSION_DIR: path.join(work, "tutorial") },
      args: ["--import", TSX_LOADER, path.join(__dirname, "servers", "tutorial.ts")],
      cookies: [],
    },
  ];
}

async function start(c: Contender, work: string): Promise<number> {
  const started = Date.now();
  // The server's output (handstamp logs every request) goes to a file, not through a pipe
  // into this process: reading it here would take CPU from the load generator.
  const logFile = path.join(work, `${c.key}.log`);
  const out = openSync(logFile, "w");
  const child = spawn(process.execPath, c.args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: "0", ...c.env },
    stdio: ["ignore", out, "inherit"],
  });
  closeSync(out);
  c.child = child;
  let exited = false;
  child.once("exit", () => (exited = true));
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(readFileSync(logFile, "utf8"));
    if (match) {
      c.url = match[1]!;
      break;
    }
    if (exited) throw new Error(`${c.label} exited with ${child.exitCode}: see ${logFile}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  for (;;) {
    const res = await fetch(`${c.url}/`, { headers: HTTPS }).catch(() => undefined);
    if (res?.status === 200) return Date.now() - started;
  }
}

async function stopServer(c: Contender): Promise<void> {
  if (!c.child || c.child.exitCode !== null) return;
  const exited = new Promise((r) => c.child!.once("exit", r));
  c.child.kill("SIGTERM");
  await exited;
}

const postForm = (c: Contender, form: "/login" | "/signup") => postCredentials(c.url!, c.cookieName, form);
const handstampLogin = (c: Contender) => postForm(c, "/login");

async function prepareSessions(c: Contender, count: number): Promise<void> {
  if (c.sessionless) {
    c.cookies = [""];
    return;
  }
  if (c.key === "tutorial") {
    c.cookies = await Promise.all(
      Array.from({ length: count }, async () =>
        cookieOf(await fetch(`${c.url}/bench-login`, { redirect: "manual" }), c.cookieName),
      ),
    );
    return;
  }
  await postForm(c, "/signup");
  c.cookies = [];
  for (let i = 0; i < count; i += 4) {
    const batch = Math.min(4, count - i);
    c.cookies.push(...(await Promise.all(Array.from({ length: batch }, () => handstampLogin(c)))));
  }
}

interface Measure {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time (all its threads, user + system) per request, in µs. */
  cpuUs: number;
  /** The load generator's own CPU time per request, in µs (it shares the machine's cores). */
  clientUs: number;
}

const TICK_MS = 10; // /proc counts CPU time in clock ticks: 100 per second on Linux

/** CPU time the process has used so far, all threads, in ms (Linux /proc). */
function cpuMs(c: Contender): number {
  const stat = readFileSync(`/proc/${c.child!.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
}

async function load(c: Contender, pathname: string, cookies: string[], connections: number, seconds: number) {
  let next = 0;
  const cpuBefore = cpuMs(c);
  const clientBefore = process.cpuUsage();
  const result = await autocannon({
    url: `${c.url}${pathname}`,
    connections,
    duration: seconds,
    headers: HTTPS,
    requests: [
      {
        method: "GET",
        setupRequest: (req) => {
          const cookie = cookies[next++ % cookies.length];
          return { ...req, headers: { ...req.headers, ...(cookie ? { cookie } : {}) } };
        },
      },
    ],
  });
  const cpuUsed = cpuMs(c) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuUs: (cpuUsed * 1000) / Math.max(1, result.requests.total),
    clientUs: (client.user + client.system) / Math.max(1, result.requests.total),
  } satisfies Measure;
}

function rssMb(c: Contender): number {
  const status = readFileSync(`/proc/${c.child!.pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

/**
 * Session files written straight to the folder, live for an hour or (`expired`) already
 * past their expiry; resolves to their paths.
 */
async function fillSessionFolder(dir: string, count: number, expired = false): Promise<string[]> {
  const body = JSON.stringify({ cookie: { originalMaxAge: null, path: "/", httpOnly: true }, visits: 1 });
  const expires = new Date(Date.now() + (expired ? -3_600_000 : 3_600_000));
  const files: string[] = [];
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, async () => {
        const file = path.join(dir, `${generateSessionId()}.json`);
        files.push(file);
        writeFileSync(file, body);
        await utimes(file, new Date(), expires);
      }),
    );
  }
  return files;
}

const countRemaining = (files: string[]) => files.filter((file) => existsSync(file)).length;

/**
 * The counter page's load on the file store while its sweep removes `count` expired
 * sessions, then again once the sweep is done. The server is restarted on the same
 * folder, database and secret (its logged-in sessions survive) with a sweep every 5 s,
 * and warmed up before its first sweep starts.
 */
async function duringSweep(file: Contender, work: string, count: number) {
  await stopServer(file);
  const expired = await fillSessionFolder(file.sessionDir!, count, true);
  execFileSync("sync");
  file.env = { ...file.env, SESSION_SWEEP_INTERVAL: "5s" };
  await start(file, work);
  await load(file, "/", file.cookies, SETTINGS.connections, 3); // warm-up, before the first sweep
  const sample = expired.slice(0, 1_000);
  while (countRemaining(sample) === sample.length) await new Promise((r) => setTimeout(r, 50));
  const removedBefore = count - countRemaining(expired);
  const during = await load(file, "/", file.cookies, SETTINGS.connections, SETTINGS.seconds);
  const removedDuring = count - countRemaining(expired) - removedBefore;
  while (countRemaining(expired) > 0) await new Promise((r) => setTimeout(r, 200));
  const after = await load(file, "/", file.cookies, SETTINGS.connections, SETTINGS.seconds);
  return { during, after, removedDuring };
}

async function alternate(
  all: Contender[],
  run: (c: Contender) => Promise<Measure>,
): Promise<Map<string, Measure[]>> {
  const results = new Map<string, Measure[]>(all.map((c) => [c.key, []]));
  for (let round = 0; round < SETTINGS.rounds; round++) {
    const order = all.map((_, i) => all[(i + round) % all.length]!);
    for (const c of order) results.get(c.key)!.push(await run(c));
  }
  return results;
}

function summarise(results: Map<string, Measure[]>) {
  return new Map(
    [...results].map(([key, ms]) => [
      key,
      {
        rps: median(ms.map((m) => m.rps)),
        p50: median(ms.map((m) => m.p50)),
        p99: median(ms.map((m) => m.p99)),
        errors: ms.reduce((s, m) => s + m.errors, 0),
        cpuUs: median(ms.map((m) => m.cpuUs)),
        clientUs: median(ms.map((m) => m.clientUs)),
      },
    ]),
  );
}

async function main(): Promise<void> {
  log(`handstamp bench (${QUICK ? "quick" : "full"}): ${JSON.stringify(SETTINGS)}`);
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build-if-needed.js")], { stdio: "inherit" });
  const work = mkdtempSync(path.join(tmpdir(), "handstamp-bench-"));
  const all = contenders(work);
  const lines: string[] = [];
  try {
    const startup = new Map<string, number>();
    for (const c of all) {
      if (c.sessionDir) mkdirSync(c.sessionDir, { recursive: true });
      startup.set(c.key, await start(c, work));
      log(
        `started ${c.label} in ${startup.get(c.key)} ms; preparing ${SETTINGS.sessions} logged-in sessions`,
      );
      await prepareSessions(c, SETTINGS.sessions);
    }
    for (const c of all) await load(c, "/", c.cookies, 10, 2); // warm-up

    const table = (title: string, results: Map<string, Measure[]>, keys = all.map((c) => c.key)) => {
      const s = summarise(results);
      const file = s.get("file")!;
      lines.push(
        `### ${title}`,
        "",
        "| contender | req/s (median) | p50 ms | p99 ms | ratio to file store | server CPU µs/request | load generator CPU µs/request | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      );
      for (const key of keys) {
        const m = s.get(key)!;
        const label = all.find((c) => c.key === key)!.label;
        lines.push(
          `| ${label} | ${Math.round(m.rps)} | ${m.p50} | ${m.p99} | ${(m.rps / file.rps).toFixed(2)}× | ${Math.round(m.cpuUs)} | ${Math.round(m.clientUs)} | ${m.errors} |`,
        );
      }
      lines.push("");
      log(lines.slice(-keys.length - 3).join("\n"));
      return s;
    };

    log("scenario: counter page");
    const counter = table(
      "Counter page (`GET /`: a session write per request)",
      await alternate(all, (c) => load(c, "/", c.cookies, SETTINGS.connections, SETTINGS.seconds)),
    );
    log("scenario: read-only page");
    const secret = table(
      "Read-only page (`GET /secret`: the session is read, not changed)",
      await alternate(all, (c) => load(c, "/secret", c.cookies, SETTINGS.connections, SETTINGS.seconds)),
    );
    log("scenario: unknown cookie");
    const withSessions = all.filter((c) => !c.sessionless);
    const unknown = new Map<string, Measure[]>();
    for (const c of withSessions) {
      const forged = `${c.cookieName}=${encodeURIComponent(`s:${sign(generateSessionId(), SECRET)}`)}`;
      unknown.set(c.key, [await load(c, "/", [forged], 1, Math.min(SETTINGS.seconds, 3))]);
    }
    const unknownSummary = table(
      "Unknown cookie (well signed, no such session; 1 connection)",
      unknown,
      withSessions.map((c) => c.key),
    );

    const file = all[0]!;
    log("scenario: log-in");
    const loginTimes: number[] = [];
    for (let i = 0; i < SETTINGS.logins; i++) {
      const t0 = performance.now();
      await handstampLogin(file);
      loginTimes.push(performance.now() - t0);
    }

    const rss = new Map(all.map((c) => [c.key, rssMb(c)]));

    log(`extra: ${SETTINGS.manyFiles} session files on disk`);
    const few = await load(file, "/", file.cookies, SETTINGS.connections, SETTINGS.seconds);
    const manyFiles = await fillSessionFolder(file.sessionDir!, SETTINGS.manyFiles);
    execFileSync("sync"); // the new files are on disk before the measure, not written back during it
    const many = await load(file, "/", file.cookies, SETTINGS.connections, SETTINGS.seconds);
    for (const extra of manyFiles) rmSync(extra, { force: true });

    log(`extra: the sweep removing ${SETTINGS.manyFiles} expired sessions`);
    const sweep = await duringSweep(file, work, SETTINGS.manyFiles);

    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const c = (k: string) => counter.get(k)!.rps;
    const s = (k: string) => secret.get(k)!.rps;
    /** A row: what, wanted, measured, holds. */
    const atLeast = (what: string, a: number, b: number, min: number) =>
      [what, `≥ ${min}×`, ratio(a, b), a / b >= min] as const;
    const p50 = unknownSummary.get("file")!.p50;
    const targets = [
      atLeast("Counter page, file store vs tutorial stack", c("file"), c("tutorial"), 3),
      atLeast("Counter page, file store vs no session", c("file"), c("none"), 0.7),
      atLeast("Read-only page, file store vs no session", s("file"), s("none"), 0.8),
      atLeast("Counter page, file store vs memory store", c("file"), c("memory"), 0.9),
      ["Unknown cookie p50 (file store)", "< 5 ms", `${p50} ms`, p50 < 5] as const,
      atLeast(`${SETTINGS.manyFiles} vs ${SETTINGS.sessions} session files`, many.rps, few.rps, 0.9),
      [
        `p99 while the sweep removes ${SETTINGS.manyFiles} expired sessions, vs after it`,
        "≤ 2×",
        ratio(sweep.during.p99, sweep.after.p99),
        sweep.during.p99 <= 2 * sweep.after.p99,
      ] as const,
    ];

    const header = [
      `# handstamp bench, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (${QUICK ? "quick" : "full"})`,
      "",
      `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}. Load: autocannon in the bench process, ${SETTINGS.connections} connections, ${SETTINGS.seconds} s per measure, ${SETTINGS.rounds} rounds alternating the contenders (medians shown), ${SETTINGS.sessions} logged-in sessions per contender with requests spread across them. handstamp runs the compiled server in production mode (lock on, pino logging at info); the reference servers render the same templates.`,
      "",
      "## Targets",
      "",
      "| target | wanted | measured | holds |",
      "| --- | --- | --- | --- |",
      ...targets.map(
        ([what, wanted, got, ok]) => `| ${what} | ${wanted} | ${got} | ${ok ? "yes" : "**no**"} |`,
      ),
      "",
      "## Scenarios",
      "",
    ];
    lines.unshift(...header);
    lines.push(
      "### Log-in (full cycle: GET /login, POST /login with argon2id verify, new session)",
      "",
      `median ${round1(median(loginTimes))} ms over ${SETTINGS.logins} sequential log-ins (argon2 dominates, by design)`,
      "",
      "### Extras",
      "",
      `- Counter page on the file store with ${SETTINGS.sessions} session files: ${Math.round(few.rps)} req/s; with ${SETTINGS.manyFiles} more: ${Math.round(many.rps)} req/s (${ratio(many.rps, few.rps)}).`,
      `- RSS after the load: ${all.map((x) => `${x.label} ${rss.get(x.key)} MB`).join("; ")}.`,
      `- Start to first 200: ${all.map((x) => `${x.label} ${startup.get(x.key)} ms`).join("; ")}.`,
      `- The sweep: ${SETTINGS.manyFiles} expired session files in the file store's folder, the server restarted with \`SESSION_SWEEP_INTERVAL=5s\` and warmed up. While it removed ${sweep.removedDuring} of them: ${Math.round(sweep.during.rps)} req/s, p50 ${sweep.during.p50} ms, p99 ${sweep.during.p99} ms. Once they were gone: ${Math.round(sweep.after.rps)} req/s, p50 ${sweep.after.p50} ms, p99 ${sweep.after.p99} ms.`,
      "",
    );
  } finally {
    await Promise.all(all.map(stopServer));
    rmSync(work, { recursive: true, force: true });
  }
  const report = lines.join("\n");
  console.log(report);
  const out = path.join(
    __dirname,
    "results",
    `${new Date().toISOString().slice(0, 10)}${QUICK ? "-quick" : ""}.md`,
  );
  writeFileSync(out, report);
  log(`written to ${path.relative(ROOT, out)}`);
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
