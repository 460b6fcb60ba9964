// npm run bench:profile -- <file|memory|redis> [path] [seconds]: one handstamp server under
// the bench's load (100 logged-in sessions, 50 connections), with node --cpu-prof; prints
// where its CPU time went, by package and by function. The profile itself is left in
// bench/results/profiles/ for a flame graph (Chrome DevTools, speedscope).
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import autocannon from "autocannon";

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "bench", "results", "profiles");
const [store = "file", pathname = "/", seconds = "10"] = process.argv.slice(2);
const HTTPS = { "x-forwarded-proto": "https" };
const PORT = 3123;

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per package (or "app", "node:…") and per function, as shares of the whole. */
function summarise(file: string): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const time = profile.timeDeltas[i] ?? 0;
    const callFrame = nodes.get(id)!;
    const frame = { ...callFrame, url: callFrame.url.replace(/^file:\/\//, "") };
    const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1];
    const where = pkg ?? (frame.url.startsWith(ROOT) ? "app" : frame.url.split("/")[0] || frame.functionName);
    const name = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/.*node_modules\//, "").replace(ROOT + "/", "")}`;
    byPackage.set(where, (byPackage.get(where) ?? 0) + time);
    byFunction.set(name, (byFunction.get(name) ?? 0) + time);
    total += time;
  });
  const top = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, time]) => `${((100 * time) / total).toFixed(1).padStart(5)}%  ${key}`)
      .join("\n");
  return `by package:\n${top(byPackage, 15)}\n\nby function:\n${top(byFunction, 20)}`;
}

async function main() {
  const work = path.join(tmpdir(), `handstamp-profile-${process.pid}`);
  mkdirSync(OUT, { recursive: true });
  const before = new Set(readdirSync(OUT));
  const child = spawn(
    process.execPath,
    ["--cpu-prof", `--cpu-prof-dir=${OUT}`, path.join(ROOT, "dist", "server.js")],
    {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        SESSION_SECRET: "profile-secret-that-is-long-enough-0123456789",
        SESSION_STORE: store,
        SESSION_DIR: path.join(work, "sessions"),
        DATABASE_PATH: path.join(work, "handstamp.db"),
        REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
        TRUST_PROXY: "loopback",
        AUTH_RATE_LIMIT: "off",
        HOST: "127.0.0.1",
        PORT: String(PORT),
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${PORT}`;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  )
    await new Promise((r) => setTimeout(r, 100));
  const cookieOf = (res: Response) =>
    res.headers
      .getSetCookie()
      .find((h) => h.startsWith("__Host-sid="))!
      .split(";")[0]!;
  const post = async (form: string) => {
    const page = await fetch(url + form, { headers: HTTPS });
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await fetch(url + form, {
      method: "POST",
      redirect: "manual",
      headers: { ...HTTPS, cookie: cookieOf(page), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: token, username: "bench", password: "bench password 123" }),
    });
    return cookieOf(res);
  };
  await post("/signup");
  const cookies: string[] = [];
  for (let i = 0; i < 100; i++) cookies.push(await post("/login"));
  let next = 0;
  const result = await autocannon({
    url: url + pathname,
    connections: 50,
    duration: Number(seconds),
    headers: HTTPS,
    requests: [
      {
        method: "GET",
        setupRequest: (req) => ({
          ...req,
          headers: { ...req.headers, cookie: cookies[next++ % cookies.length]! },
        }),
      },
    ],
  });
  console.log(
    `${store} store, GET ${pathname}: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${result.non2xx} non-2xx\n`,
  );
  child.kill("SIGINT");
  await new Promise((r) => child.once("exit", r));
  rmSync(work, { recursive: true, force: true });
  const written = readdirSync(OUT).filter((name) => !before.has(name));
  for (const name of written)
    console.log(`${summarise(path.join(OUT, name))}\n\nprofile: bench/results/profiles/${name}`);
}

void main();
