// Keeps dist/ in step with src/ before `npm start`, `npm run sessions` and the tests run it.
// Outside production it compiles when dist/ is missing or older than a source; `npm run build`
// (--always) compiles in any case. In production it never compiles: TypeScript is a dev
// dependency (gone after `npm prune --omit=dev`), and a server should run what was built and
// checked, so an out-of-date dist/ stops the start with one line instead.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const dist = path.join(root, "dist");
// Written after each successful build. Not dist/server.js: tsc leaves a file alone when its
// output would not change, so a source touched by git without a change would keep an
// older dist/server.js "out of date" forever, and production would never start.
const stamp = path.join(dist, ".built");

function newestSource(dir) {
  let newest = 0;
  // A deployment may ship dist/ without src/ (a multi-stage image): then the build is all there is.
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestSource(file) : fs.statSync(file).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}

/** src/ and every tsconfig*.json (the build's extends the base one: both shape the output). */
function sourcesTime() {
  const configs = fs
    .readdirSync(root)
    .filter((name) => /^tsconfig.*\.json$/.test(name))
    .map((name) => fs.statSync(path.join(root, name)).mtimeMs);
  return Math.max(newestSource(path.join(root, "src")), ...configs);
}

function upToDate() {
  return (
    fs.existsSync(stamp) &&
    fs.existsSync(path.join(dist, "server.js")) &&
    fs.statSync(stamp).mtimeMs >= sourcesTime()
  );
}

/** NODE_ENV as the server will see it: the environment first, then .env (as server.ts reads it). */
function nodeEnv() {
  if (process.env.NODE_ENV !== undefined) return process.env.NODE_ENV;
  try {
    return require("dotenv").parse(fs.readFileSync(".env")).NODE_ENV;
  } catch {
    return undefined;
  }
}

function fail(message) {
  console.error(`handstamp: ${message}`);
  process.exit(1);
}

function compile() {
  let tsc;
  try {
    tsc = require.resolve("typescript/bin/tsc");
  } catch {
    fail(
      "dist/ needs a build and TypeScript is not installed (a production install?): run `npm install`, or `npm run build` before `npm prune --omit=dev`",
    );
  }
  console.log("handstamp: compiling TypeScript (src/ → dist/)");
  // From an empty dist/: tsc never deletes, and a module that moved (src/db.ts became
  // src/db/index.ts) would leave its old dist/db.js behind, which require("./db") finds first.
  fs.rmSync(dist, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" });
  } catch {
    fail("the TypeScript build failed (errors above)");
  }
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

if (process.argv.includes("--always")) compile();
else if (!upToDate()) {
  if (nodeEnv() === "production") {
    fail(
      "dist/ is missing or older than src/ and production never compiles: run `npm run build` (with dev dependencies installed), then start again",
    );
  }
  compile();
}
