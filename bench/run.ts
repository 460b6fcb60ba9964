// npm run bench [-- --quick]: the contenders side by side in one run, alternating over
// rounds, with medians and ratios measured in the same run, and issue #14's targets at the
// end. The load is wrk on established keep-alive connections, with what a new connection
// waits for measured apart (docs/tail.md says why). Exits 1, loudly, when a latency
// target fails. Results: printed, and written to bench/results/<date>.md.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { utimes } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { sign } from "cookie-signature";
import { parseConfig } from "../src/config";
import { generateSessionId } from "../src/sessions/ids";
import { cookieName as siteCookieName } from "../src/sessions/cookies";
import { startProcess, until, type Started, type StartOptions } from "../test/processes";
import { cookieOf, HTTPS, postCredentials, ROOT } from "./client";
import { probeNewConnections, wrk, writeCookies, type WrkResult } from "./load";

const QUICK = process.argv.includes("--quick");
const SETTINGS = QUICK
  ? { sessions: 100, rounds: 2, seconds: 4, connections: 50, manyFiles: 10_000, logins: 10 }
  : { sessions: 1_000, rounds: 5, seconds: 10, connections: 50, manyFiles: 100_000, logins: 30 };
const SECRET = randomBytes(32).toString("hex");
/** The floors' record files are this long: JSON padded with spaces (bench/servers/floorWork.ts). */
const FLOOR_RECORD_SIZE = 512;

interface Contender {
  key: string;
  label: string;
  cookieName: string;
  env: Record<string, string>;
  script: string;
  args?: string[];
  options: StartOptions;
  sessionDir?: string;
  started?: Started;
  url?: string;
  cookies: string[];
  cookiesFile?: string;
  /**
   * How a session is made: logged in through handstamp's forms, the reference servers'
   * /bench-login, or (the floors and off-floor) a record file written straight to the folder.
   */
  sessions: "handstamp" | "bench-login" | "files" | "none";
  /** A floor (bench/servers/floor.ts): measured on the counter page only. */
  floor?: boolean;
  /**
   * A lean layer (bench/servers/leanLayer.ts), or off-floor (layerOff.ts with BENCH_FLOOR):
   * measured on the counter page only, against the same app with its session layer off.
   */
  lean?: boolean;
}

interface Measure extends WrkResult {
  /** Server CPU time (all its processes and threads, user + system) per request, in µs. */
  cpuUs: number;
  /** The part of cpuUs spent in the kernel (system calls, the network, the file system). */
  sysUs: number;
  /** wrk's CPU time per request, in µs (it shares the machine's cores). */
  clientUs: number;
  /** What a new connection waited for its first answer, in ms, while wrk kept the server busy. */
  connects: number[];
}

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A program on the PATH, or undefined. */
function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, program);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function contenders(work: string): { all: Contender[]; skipped: string[] } {
  const handstamp = (key: string, label: string, env: Record<string, string>): Contender => {
    const dir = path.join(work, key);
    const full = {
      NODE_ENV: "production",
      SESSION_SECRET: SECRET,
      SESSION_DIR: path.join(dir, "sessions"),
      DATABASE_PATH: path.join(dir, "handstamp.db"),
      TRUST_PROXY: "loopback",
      LOG_LEVEL: "info",
      // The bench logs in its sessions from one address: far past the per-address limits.
      AUTH_RATE_LIMIT: "off",
      SESSION_CREATE_LIMIT: "off",
      ...env,
    };
    return {
      key,
      label,
      cookieName: siteCookieName(parseConfig(full), "sid"),
      sessionDir: full.SESSION_DIR,
      env: full,
      script: path.join(ROOT, "dist", "server.js"),
      options: { loader: [] },
      cookies: [],
      sessions: "handstamp",
    };
  };
  // In production mode, as handstamp: Express caches its views only there (elsewhere every
  // render looks its template up on disk again).
  const reference = (key: string, label: string, file: string, env: Record<string, string> = {}) => ({
    key,
    label,
    cookieName: "connect.sid",
    env: { NODE_ENV: "production", ...env },
    script: path.join(__dirname, "servers", file),
    options: {},
    cookies: [],
  });
  const offFloorRecords = path.join(work, "off-floor-records");
  const all: Contender[] = [
    handstamp("file", "handstamp, file store", { SESSION_STORE: "file" }),
    handstamp("cluster", "handstamp, file store, WEB_CONCURRENCY=2", {
      SESSION_STORE: "file",
      WEB_CONCURRENCY: "2",
    }),
    handstamp("memory", "handstamp, memory store", { SESSION_STORE: "memory" }),
    {
      ...handstamp("off", "same app (handstamp), session layer and CSRF off", { SESSION_STORE: "file" }),
      script: path.join(__dirname, "servers", "layerOff.ts"),
      options: {},
      sessions: "none",
    },
    {
      // The floor's own records and log-in rows, apart from the app's sessions folder (whose
      // sweep would take records it did not write for leftovers).
      ...handstamp(
        "off-floor",
        "same app, session layer off + the floor's lines: lock, read, write, HMACs, log-in row",
        {
          SESSION_STORE: "file",
          BENCH_FLOOR: "required",
          BENCH_FLOOR_DIR: offFloorRecords,
          BENCH_RECORD_SIZE: String(FLOOR_RECORD_SIZE),
        },
      ),
      script: path.join(__dirname, "servers", "layerOff.ts"),
      options: {},
      cookieName: "sid",
      sessionDir: offFloorRecords,
      sessions: "files",
      lean: true,
    },
    ...(
      [
        [
          "lean",
          "same app, the leanest layer doing what #14 keeps on (lock, read, write, HMACs, log-in row)",
          "",
        ],
        [
          "lean-link",
          "same app, the leanest layer as handstamp's now (cross-process lock; cookie HMAC and log-in row remembered)",
          "link",
        ],
        [
          "lean-min",
          "same app, the leanest layer without the cross-process lock, log-in check or per-request cookie HMAC",
          "min",
        ],
      ] as const
    ).map(([key, label, lean]): Contender => ({
      ...handstamp(key, label, { SESSION_STORE: "file", BENCH_LEAN: lean }),
      script: path.join(__dirname, "servers", "leanLayer.ts"),
      options: {},
      sessions: "bench-login",
      lean: true,
    })),
    ...(
      [
        [
          "lean-link-2",
          "same app, the leanest layer as handstamp's now, in 2 workers (node:cluster)",
          "link",
        ],
        [
          "lean-min-2",
          "same app, the leanest layer without a lock across workers (so not a correct one), in 2 workers",
          "min",
        ],
      ] as const
    ).map(([key, label, lean]): Contender => ({
      ...handstamp(key, label, {
        SESSION_STORE: "file",
        BENCH_LEAN: lean,
        BENCH_WORKERS: "2",
        BENCH_SCRIPT: path.join(__dirname, "servers", "leanLayer.ts"),
      }),
      script: path.join(__dirname, "servers", "workers.ts"),
      options: {},
      sessions: "bench-login",
      lean: true,
    })),
    {
      ...reference("layers", "bare page + handstamp's headers and log (no app)", "noSession.ts", {
        BENCH_APP_LAYERS: "1",
      }),
      sessions: "none",
    },
    { ...reference("none", "same page, nothing else", "noSession.ts"), sessions: "none" },
    ...(
      [
        ["memory", "floor: bare page + headers and log + the record in a Map, through JSON (no disk)"],
        [
          "lock-write",
          "floor: bare page + headers and log + lock, the record written in place (one process only)",
        ],
        [
          "lock-read-write",
          "floor: bare page + headers and log + lock, the record read and written in place (shared store)",
        ],
        ["required", "floor: that + what #14 keeps on: signed cookie, log-in row (SQLite), CSRF token"],
      ] as const
    ).map(([floor, label]): Contender => {
      const sessionDir = path.join(work, `floor-${floor}`);
      return {
        ...reference(`floor-${floor}`, label, "floor.ts", {
          BENCH_FLOOR: floor,
          BENCH_RECORD_SIZE: String(FLOOR_RECORD_SIZE),
          SESSION_DIR: sessionDir,
          SESSION_SECRET: SECRET,
        }),
        cookieName: "sid",
        sessionDir,
        sessions: "files",
        floor: true,
      };
    }),
    {
      ...reference("tutorial", "tutorial: express-session + session-file-store", "tutorial.ts", {
        SESSION_SECRET: SECRET,
        SESSION_DIR: path.join(work, "tutorial"),
      }),
      sessionDir: path.join(work, "tutorial"),
      sessions: "bench-login",
    },
  ];
  const skipped: string[] = [];
  const gunicorn = onPath("gunicorn");
  if (gunicorn) {
    all.push({
      key: "flask",
      label: "Flask + Flask-Session (filesystem), gunicorn 2 workers × 4 threads",
      cookieName: "session",
      env: { SESSION_SECRET: SECRET, SESSION_DIR: path.join(work, "flask"), PYTHONDONTWRITEBYTECODE: "1" },
      script: "flask_app:app",
      args: [
        "-w",
        "2",
        "--threads",
        "4",
        "-b",
        "127.0.0.1:0",
        "-c",
        path.join(__dirname, "servers", "gunicorn_conf.py"),
        "--chdir",
        path.join(__dirname, "servers"),
      ],
      options: { program: gunicorn },
      sessionDir: path.join(work, "flask"),
      cookies: [],
      sessions: "bench-login",
    });
  } else {
    skipped.push(
      "Flask + Flask-Session under gunicorn: skipped, gunicorn is not installed (apt-get install gunicorn python3-flask python3-flask-session)",
    );
  }
  return { all, skipped };
}

async function start(c: Contender, work: string): Promise<number> {
  const begun = Date.now();
  // The server's output goes to a file: handstamp logs every request, and reading that
  // here would take CPU from the load generator.
  const logFile = path.join(work, `${c.key}.log`);
  c.started = startProcess(c.script, c.args ?? [], c.env, ROOT, {
    ...c.options,
    logFile,
    lifetimeMs: Infinity,
  });
  c.url = await c.started.listening;
  await until(
    () =>
      fetch(`${c.url}/`, { headers: HTTPS }).then(
        (res) => (res.status === 200 ? true : undefined),
        () => undefined,
      ),
    { deadlineMs: 60_000, what: `${c.label} answering 200 on /` },
  );
  return Date.now() - begun;
}

async function stopServer(c: Contender): Promise<void> {
  if (!c.started || c.started.child.exitCode !== null || c.started.child.signalCode !== null) return;
  c.started.child.kill("SIGTERM");
  await c.started.exited;
}

const handstampLogin = (c: Contender) => postCredentials(c.url!, c.cookieName, "/login");

async function prepareSessions(c: Contender, count: number, work: string): Promise<void> {
  if (c.sessions === "none") {
    c.cookies = [];
  } else if (c.sessions === "files") {
    c.cookies = Array.from({ length: count }, () => {
      const id = randomBytes(16).toString("hex");
      writeFileSync(
        path.join(c.sessionDir!, `${id}.json`),
        JSON.stringify({ visits: 0 }).padEnd(FLOOR_RECORD_SIZE, " "),
      );
      return c.env.BENCH_FLOOR === "required"
        ? `sid=${encodeURIComponent(`s:${sign(id, SECRET)}`)}`
        : `sid=${id}`;
    });
    // One visit each, as a log-in would make them: the `required` floor's log-in rows exist
    // before the measures, and every floor has served each of its sessions.
    for (let i = 0; i < count; i += 20) {
      await Promise.all(
        c.cookies.slice(i, i + 20).map(async (cookie) => {
          const res = await fetch(`${c.url}/`, { headers: { cookie } });
          await res.arrayBuffer();
          if (res.status !== 200)
            throw new Error(`${c.label} answered ${res.status} to a session it was given`);
        }),
      );
    }
  } else if (c.sessions === "bench-login") {
    c.cookies = [];
    for (let i = 0; i < count; i += 20) {
      const batch = Array.from({ length: Math.min(20, count - i) }, async () =>
        cookieOf(await fetch(`${c.url}/bench-login`, { redirect: "manual" }), c.cookieName),
      );
      c.cookies.push(...(await Promise.all(batch)));
    }
  } else {
    await postCredentials(c.url!, c.cookieName, "/signup");
    c.cookies = [];
    for (let i = 0; i < count; i += 4) {
      const batch = Math.min(4, count - i);
      c.cookies.push(...(await Promise.all(Array.from({ length: batch }, () => handstampLogin(c)))));
    }
  }
  c.cookiesFile = writeCookies(path.join(work, `${c.key}.cookies`), c.cookies);
}

const TICK_MS = 10; // /proc counts CPU time in clock ticks: 100 per second on Linux

/** Fields of /proc/<pid>/stat after the command's name. */
function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU time a process and its children (cluster or gunicorn workers) have used so far, in ms. */
function treeCpuMs(pid: number): { total: number; sys: number } {
  try {
    const fields = statFields(pid);
    const sys = Number(fields[12]) * TICK_MS; // stime
    const tree = { total: Number(fields[11]) * TICK_MS + sys, sys }; // + utime
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      for (const child of children ? children.split(" ") : []) {
        const used = treeCpuMs(Number(child));
        tree.total += used.total;
        tree.sys += used.sys;
      }
    }
    return tree;
  } catch {
    return { total: 0, sys: 0 }; // it exited meanwhile
  }
}

/** CPU time of the children this process has waited for (wrk, once it has exited), in ms. */
const waitedChildrenCpuMs = () => {
  const fields = statFields("self");
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS; // cutime, cstime
};

async function load(
  c: Contender,
  pathname: string,
  {
    connections = SETTINGS.connections,
    seconds = SETTINGS.seconds,
    holdMs,
    cookies = c.cookiesFile!,
    probe = false,
  }: { connections?: number; seconds?: number; holdMs?: number; cookies?: string; probe?: boolean } = {},
): Promise<Measure> {
  const cpuBefore = treeCpuMs(c.started!.child.pid!);
  const clientBefore = waitedChildrenCpuMs();
  const run = wrk(`${c.url}${pathname}`, {
    cookiesFile: cookies,
    connections,
    seconds,
    holdMs,
    headers: HTTPS,
  });
  const { result, waits } = probe
    ? await probeNewConnections(`${c.url}${pathname}`, c.cookies, HTTPS, run)
    : { result: await run, waits: [] };
  const requests = Math.max(1, result.requests);
  const cpuAfter = treeCpuMs(c.started!.child.pid!);
  return {
    ...result,
    cpuUs: ((cpuAfter.total - cpuBefore.total) * 1000) / requests,
    sysUs: ((cpuAfter.sys - cpuBefore.sys) * 1000) / requests,
    clientUs: ((waitedChildrenCpuMs() - clientBefore) * 1000) / requests,
    connects: waits,
  };
}

function rssMb(c: Contender): number {
  const rss = (pid: number): number => {
    try {
      const own = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
      const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
        readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean),
      );
      return own + children.reduce((sum, child) => sum + rss(Number(child)), 0);
    } catch {
      return 0;
    }
  };
  return Math.round(rss(c.started!.child.pid!) / 1024);
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
  await load(file, "/", { seconds: 3 }); // warm-up, before the first sweep
  const sample = expired.slice(0, 1_000);
  while (countRemaining(sample) === sample.length) await new Promise((r) => setTimeout(r, 50));
  const removedBefore = count - countRemaining(expired);
  const during = await load(file, "/");
  const removedDuring = count - countRemaining(expired) - removedBefore;
  while (countRemaining(expired) > 0) await new Promise((r) => setTimeout(r, 200));
  const after = await load(file, "/");
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

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  /** The worst of every round, not a median: "max < 1 s" is about every request. */
  max: number;
  errors: number;
  cpuUs: number;
  sysUs: number;
  clientUs: number;
  connectP50: number;
  connectMax: number;
}

function summarise(results: Map<string, Measure[]>): Map<string, Summary> {
  return new Map(
    [...results].map(([key, ms]) => {
      const connects = ms.flatMap((m) => m.connects);
      return [
        key,
        {
          rps: median(ms.map((m) => m.rps)),
          p50: median(ms.map((m) => m.p50)),
          p99: median(ms.map((m) => m.p99)),
          max: Math.max(...ms.map((m) => m.max)),
          errors: ms.reduce((s, m) => s + m.errors, 0),
          cpuUs: median(ms.map((m) => m.cpuUs)),
          sysUs: median(ms.map((m) => m.sysUs)),
          clientUs: median(ms.map((m) => m.clientUs)),
          connectP50: median(connects),
          connectMax: connects.length ? Math.max(...connects) : NaN,
        },
      ];
    }),
  );
}

const fmt = (x: number) => (Number.isNaN(x) ? "-" : String(round1(x)));

type Row = readonly [what: string, wanted: string, measured: string, holds: boolean | undefined];

async function main(): Promise<void> {
  if (!onPath("wrk")) {
    console.error("npm run bench needs wrk, the load generator: apt-get install wrk (or brew install wrk)");
    process.exit(1);
  }
  log(`handstamp bench (${QUICK ? "quick" : "full"}): ${JSON.stringify(SETTINGS)}`);
  execFileSync(process.execPath, [path.join(ROOT, "scripts", "build-if-needed.js")], { stdio: "inherit" });
  const work = mkdtempSync(path.join(tmpdir(), "handstamp-bench-"));
  const { all, skipped } = contenders(work);
  for (const line of skipped) log(line);
  const lines: string[] = [];
  const targets: Row[] = [];
  const checks: Row[] = [];
  /** The rows that make the run fail: a tail that comes back. */
  const latencyRows: Row[] = [];
  try {
    const startup = new Map<string, number>();
    for (const c of all) {
      if (c.sessionDir) mkdirSync(c.sessionDir, { recursive: true });
      startup.set(c.key, await start(c, work));
      log(`started ${c.label} in ${startup.get(c.key)} ms; preparing ${SETTINGS.sessions} sessions`);
      await prepareSessions(c, SETTINGS.sessions, work);
    }
    for (const c of all) await load(c, "/", { connections: 10, seconds: 2 }); // warm-up

    /** Every contender but the floors, which are measured on the counter page only. */
    const pages = all.filter((c) => !c.floor && !c.lean);
    const label = (key: string) => all.find((c) => c.key === key)!.label;
    const table = (
      title: string,
      results: Map<string, Measure[]>,
      keys = [...results.keys()],
      connects = false,
    ) => {
      const s = summarise(results);
      const file = s.get("file")!;
      const tutorial = s.get("tutorial");
      lines.push(
        `### ${title}`,
        "",
        `| contender | req/s | p50 ms | p99 ms | max ms | vs file store | vs tutorial |${connects ? " new connection p50 / max ms |" : ""} server CPU µs/req (kernel) | wrk CPU µs/req | errors |`,
        `| --- | ---: | ---: | ---: | ---: | ---: | ---: |${connects ? " ---: |" : ""} ---: | ---: | ---: |`,
      );
      for (const key of keys) {
        const m = s.get(key)!;
        lines.push(
          `| ${label(key)} | ${Math.round(m.rps)} | ${fmt(m.p50)} | ${fmt(m.p99)} | ${fmt(m.max)} | ${(m.rps / file.rps).toFixed(2)}× | ${tutorial ? `${(m.rps / tutorial.rps).toFixed(2)}×` : "-"} |${connects ? ` ${fmt(m.connectP50)} / ${fmt(m.connectMax)} |` : ""} ${Math.round(m.cpuUs)} (${Math.round(m.sysUs)}) | ${Math.round(m.clientUs)} | ${m.errors} |`,
        );
      }
      lines.push("");
      log(lines.slice(-keys.length - 3).join("\n"));
      return s;
    };

    log("scenario: counter page");
    const counter = table(
      "Counter page (`GET /`: a session write per request where there are sessions), on established connections",
      await alternate(all, (c) => load(c, "/", { probe: true })),
      undefined,
      true,
    );
    log("scenario: read-only page");
    const secret = table(
      "Read-only page (`GET /secret`: the session is read, not changed)",
      await alternate(pages, (c) => load(c, "/secret")),
    );
    log("scenario: cold start");
    const cold = new Map<string, Measure[]>();
    for (const c of pages)
      cold.set(c.key, [await load(c, "/", { holdMs: 0, seconds: Math.min(SETTINGS.seconds, 5) })]);
    table(
      "Cold start (counter page, every connection's first request sent the moment it connects; one run)",
      cold,
    );
    log("scenario: unknown cookie");
    const withSessions = pages.filter((c) => c.sessions !== "none");
    const unknown = new Map<string, Measure[]>();
    for (const c of withSessions) {
      const forged = `${c.cookieName}=${encodeURIComponent(`s:${sign(generateSessionId(), SECRET)}`)}`;
      const cookies = writeCookies(path.join(work, `${c.key}.forged`), [forged]);
      unknown.set(c.key, [
        await load(c, "/", { cookies, connections: 1, seconds: Math.min(SETTINGS.seconds, 3) }),
      ]);
    }
    const unknownSummary = table("Unknown cookie (well signed, no such session; 1 connection)", unknown);

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
    const few = await load(file, "/");
    const manyFiles = await fillSessionFolder(file.sessionDir!, SETTINGS.manyFiles);
    execFileSync("sync"); // the new files are on disk before the measure, not written back during it
    const many = await load(file, "/");
    for (const extra of manyFiles) rmSync(extra, { force: true });

    log(`extra: the sweep removing ${SETTINGS.manyFiles} expired sessions`);
    const sweep = await duringSweep(file, work, SETTINGS.manyFiles);

    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    /** a/b against a target: two decimals, or as many more as it takes not to hide a miss (0.6999× is short of 0.7×). */
    const ratioAgainst = (a: number, b: number, min: number) => {
      let digits = 2;
      while (digits < 6 && Number((a / b).toFixed(digits)) >= min !== a / b >= min) digits++;
      return `${(a / b).toFixed(digits)}×`;
    };
    const c = (k: string) => counter.get(k);
    const atLeast = (what: string, a: string, b: string, min: number): Row => {
      const [x, y] = [c(a), c(b)];
      if (!x || !y) return [what, `≥ ${min}×`, "not measured", undefined];
      return [what, `≥ ${min}×`, ratioAgainst(x.rps, y.rps, min), x.rps / y.rps >= min];
    };
    const fileP99 = c("file")!.p99;
    const tutorialP99 = c("tutorial")!.p99;
    const fileMax = c("file")!.max;
    const p99Row: Row = [
      "Counter page p99, file store vs tutorial stack",
      "≤ tutorial's",
      `${fmt(fileP99)} ms vs ${fmt(tutorialP99)} ms`,
      fileP99 <= tutorialP99,
    ];
    const maxRow: Row = [
      "Counter page max, file store (worst of every round)",
      "< 1,000 ms",
      `${fmt(fileMax)} ms`,
      fileMax < 1_000,
    ];
    latencyRows.push(p99Row, maxRow);
    targets.push(
      atLeast("Counter page, file store vs tutorial stack", "file", "tutorial", 2),
      atLeast("Counter page, file store vs the same app with its session layer off", "file", "off", 0.7),
      p99Row,
      maxRow,
      atLeast("Counter page, WEB_CONCURRENCY=2 vs tutorial stack", "cluster", "tutorial", 3),
      atLeast(
        "Counter page, WEB_CONCURRENCY=2 vs Flask + Flask-Session (gunicorn -w 2)",
        "cluster",
        "flask",
        2,
      ),
    );
    const floorRows = ["file", "off", ...all.filter((x) => x.floor).map((x) => x.key)].map(
      (key) =>
        `| ${label(key)} | ${ratio(c(key)!.rps, c("layers")!.rps)} | ${Math.round(c(key)!.cpuUs)} (${Math.round(c(key)!.sysUs)}) |`,
    );
    const leanRows = ["file", ...all.filter((x) => x.lean && !x.env.BENCH_WORKERS).map((x) => x.key)].map(
      (key) =>
        `| ${label(key)} | ${ratio(c(key)!.rps, c("off")!.rps)} | ${Math.round(c(key)!.cpuUs)} (${Math.round(c(key)!.sysUs)}) |`,
    );
    /** Each throughput target, for handstamp and for the leanest layer doing what handstamp's does now. */
    const leanest = (what: string, ours: string, lean: string, versus: string, min: number) => {
      const [x, y, z] = [c(ours), c(lean), c(versus)];
      const measured = (m: { rps: number } | undefined) =>
        m && z
          ? `${ratioAgainst(m.rps, z.rps, min)}${m.rps / z.rps >= min ? "" : " (short)"}`
          : "not measured";
      return `| ${what} | ≥ ${min}× | ${measured(x)} | ${measured(y)} |`;
    };
    const leanTargets = [
      leanest("One process vs tutorial stack", "file", "lean-link", "tutorial", 2),
      leanest("One process vs the same app with its session layer off", "file", "lean-link", "off", 0.7),
      leanest("Two workers vs tutorial stack", "cluster", "lean-link-2", "tutorial", 3),
      leanest("Two workers vs Flask + Flask-Session (gunicorn -w 2)", "cluster", "lean-link-2", "flask", 2),
      leanest(
        "Two workers vs tutorial stack, no lock across workers (not a correct layer)",
        "cluster",
        "lean-min-2",
        "tutorial",
        3,
      ),
      leanest(
        "Two workers vs Flask, no lock across workers (not a correct layer)",
        "cluster",
        "lean-min-2",
        "flask",
        2,
      ),
    ];
    const p50 = unknownSummary.get("file")!.p50;
    checks.push(
      atLeast("Counter page, file store vs memory store", "file", "memory", 0.9),
      [
        "Read-only page, file store vs the same app with its session layer off",
        "≥ 0.8×",
        ratio(secret.get("file")!.rps, secret.get("off")!.rps),
        secret.get("file")!.rps / secret.get("off")!.rps >= 0.8,
      ],
      ["Unknown cookie p50 (file store)", "< 5 ms", `${fmt(p50)} ms`, p50 < 5],
      [
        `${SETTINGS.manyFiles} vs ${SETTINGS.sessions} session files`,
        "≥ 0.9×",
        ratio(many.rps, few.rps),
        many.rps / few.rps >= 0.9,
      ],
      [
        `p99 while the sweep removes ${SETTINGS.manyFiles} expired sessions, vs after it`,
        "≤ 2×",
        ratio(sweep.during.p99, sweep.after.p99),
        sweep.during.p99 <= 2 * sweep.after.p99,
      ],
    );

    const rows = (list: Row[]) =>
      list.map(
        ([what, wanted, got, ok]) =>
          `| ${what} | ${wanted} | ${got} | ${ok === undefined ? "not measured" : ok ? "yes" : "**no**"} |`,
      );
    const header = [
      `# handstamp bench, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (${QUICK ? "quick" : "full"})`,
      "",
      `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}. Load: wrk -t2 -c${SETTINGS.connections} --latency, ${SETTINGS.seconds} s per measure, ${SETTINGS.rounds} rounds alternating the contenders (medians shown; max is the worst of all rounds), ${SETTINGS.sessions} sessions per contender with sessions (logged in; the floors' and off-floor's written to their folder and visited once) with one chosen at random per request. Each connection's first request waits until all are open (steady state on kept-alive connections, as behind nginx with upstream keepalive; docs/tail.md); "new connection" is a request on a connection of its own, one every 250 ms while wrk runs. handstamp runs the compiled server in production mode (lock on, request log at info); "same app, session layer and CSRF off" is that compiled app with a stub in place of its session layer and CSRF token (bench/servers/layerOff.ts); the reference servers and the floors, in production mode too, render the same templates.`,
      ...skipped.map((line) => `\n${line}.`),
      "",
      "## Targets (issue #14)",
      "",
      "| target | wanted | measured | holds |",
      "| --- | --- | --- | --- |",
      ...rows(targets),
      "",
      "## Floors (counter page: the bare page with handstamp's headers and log, plus one storage design written by hand, no session layer; handstamp above them for comparison)",
      "",
      "| contender | vs bare page + headers and log | server CPU µs/req (kernel) |",
      "| --- | ---: | ---: |",
      ...floorRows,
      "",
      "## Lean layers (counter page: the same app with the leanest session layer we could write, bench/servers/leanLayer.ts, and with its layer off plus the `required` floor's hand-written lines, bench/servers/layerOff.ts; handstamp's file store above them)",
      "",
      "| contender | vs same app, session layer off | server CPU µs/req (kernel) |",
      "| --- | ---: | ---: |",
      ...leanRows,
      "",
      "## The throughput targets, for handstamp and for the leanest layer doing what handstamp's does now (`lean-link`: lock across processes, record read and written back, HMAC and log-in row remembered; in two workers for the two-worker targets)",
      "",
      "| target | wanted | handstamp, file store | leanest layer |",
      "| --- | --- | --- | --- |",
      ...leanTargets,
      "",
      "## Other checks",
      "",
      "| check | wanted | measured | holds |",
      "| --- | --- | --- | --- |",
      ...rows(checks),
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
      `- RSS after the load (all of a contender's processes): ${all.map((x) => `${x.label} ${rss.get(x.key)} MB`).join("; ")}.`,
      `- Start to first 200: ${all.map((x) => `${x.label} ${startup.get(x.key)} ms`).join("; ")}.`,
      `- The sweep: ${SETTINGS.manyFiles} expired session files in the file store's folder, the server restarted with \`SESSION_SWEEP_INTERVAL=5s\` and warmed up. While it removed ${sweep.removedDuring} of them: ${Math.round(sweep.during.rps)} req/s, p50 ${fmt(sweep.during.p50)} ms, p99 ${fmt(sweep.during.p99)} ms, max ${fmt(sweep.during.max)} ms. Once they were gone: ${Math.round(sweep.after.rps)} req/s, p50 ${fmt(sweep.after.p50)} ms, p99 ${fmt(sweep.after.p99)} ms, max ${fmt(sweep.after.max)} ms.`,
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
  if (latencyRows.some(([, , , holds]) => holds === false)) {
    log(
      "\n!!! LATENCY TARGET FAILED: the file store's p99 is above the tutorial stack's, or a request took 1 s or more. See the targets above and docs/tail.md. !!!",
    );
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
