// `npm start` as deployed: it builds when needed outside production, and in production it
// never compiles (TypeScript is gone after `npm prune --omit=dev`): an out-of-date dist/
// stops it with one line. Run in a copy of the project, so the checkout's dist/ is untouched.
import {
  cpSync,
  existsSync,
  mkdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { tempDir, TEST_SECRET } from "./helpers";
import { ROOT, startProcess, stop } from "./processes";

jest.setTimeout(240_000);

/** npm's own script, run by this node (the one first on PATH is the one npm would use too). */
function npmCli(): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const npm = path.join(dir, "npm");
    if (existsSync(npm)) return path.resolve(path.dirname(realpathSync(npm)), "npm-cli.js");
  }
  throw new Error("npm is not on PATH");
}

function copyOfProject(): string {
  const dir = tempDir("handstamp-start-");
  for (const name of [
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "src",
    "views",
    "public",
    "scripts",
  ]) {
    cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

const production = (dir: string) => ({
  NODE_ENV: "production",
  SESSION_SECRET: TEST_SECRET,
  SESSION_DIR: path.join(dir, "sessions"),
  DATABASE_PATH: path.join(dir, "data", "handstamp.db"),
});

const npm = (dir: string, args: string[], env: Record<string, string> = {}) =>
  startProcess(npmCli(), ["--silent", ...args], env, dir, { loader: [] });

/** The server `npm start` started answers /healthz, and stops cleanly on SIGTERM. */
async function servesThenStops(dir: string, env: Record<string, string>) {
  const started = npm(dir, ["start"], env);
  const url = await started.listening;
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const run = await stop(started);
  expect(run.code).toBe(0);
  return run;
}

describe("npm start", () => {
  const dir = copyOfProject();

  test("in production without dist/, it says so in one line, exits non-zero and compiles nothing", async () => {
    const run = await npm(dir, ["start"], production(dir)).exited;
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toEqual([
      "handstamp: dist/ is missing or older than src/ and production never compiles: run `npm run build` (with dev dependencies installed), then start again",
    ]);
    expect(existsSync(path.join(dir, "dist"))).toBe(false);
  });

  test("outside production, it builds first, then serves", async () => {
    const run = await servesThenStops(dir, { SESSION_SECRET: TEST_SECRET });
    expect(run.stdout).toContain("handstamp: compiling TypeScript");
    expect(existsSync(path.join(dir, "dist", "server.js"))).toBe(true);
  });

  test("in production, a tsconfig changed since the build stops it until `npm run build`", async () => {
    // The build happened a minute ago; tsconfig.json was saved since (even unchanged, as a
    // git checkout leaves it): what tsc would make of it is unknown until it runs.
    const aMinuteAgo = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, "dist", ".built"), aMinuteAgo, aMinuteAgo);
    utimesSync(path.join(dir, "dist", "server.js"), aMinuteAgo, aMinuteAgo);
    utimesSync(path.join(dir, "tsconfig.json"), new Date(), new Date());

    const refused = await npm(dir, ["start"], production(dir)).exited;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("production never compiles: run `npm run build`");

    // tsc writes no file here (no output changes); the build still counts as done.
    expect((await npm(dir, ["run", "build"], { NODE_ENV: "production" }).exited).code).toBe(0);
    const run = await servesThenStops(dir, production(dir));
    expect(run.stdout).not.toContain("compiling");
    expect(run.stdout).toContain("(production, file sessions)");
  });

  test("a build leaves nothing of an earlier one: a module since moved cannot shadow its new place", async () => {
    // src/db.ts became src/db/index.ts: a dist/db.js left behind would win over dist/db/index.js.
    mkdirSync(path.join(dir, "dist"), { recursive: true });
    writeFileSync(
      path.join(dir, "dist", "db.js"),
      'throw new Error("a stale module from an earlier build");\n',
    );
    expect((await npm(dir, ["run", "build"], { NODE_ENV: "production" }).exited).code).toBe(0);
    expect(existsSync(path.join(dir, "dist", "db.js"))).toBe(false);
    await servesThenStops(dir, production(dir));
  });

  test("in production, a build shipped without src/ (a multi-stage image) starts", async () => {
    expect((await npm(dir, ["run", "build"], { NODE_ENV: "production" }).exited).code).toBe(0);
    rmSync(path.join(dir, "src"), { recursive: true });
    const run = await servesThenStops(dir, production(dir));
    expect(run.stderr).toBe("");
  });
});
