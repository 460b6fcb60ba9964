// `npm start` runs this first: it compiles src/ to dist/ only when dist/ is missing or
// older than a source file, so a second start is immediate.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const built = path.join(root, "dist", "server.js");

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestSource(file) : fs.statSync(file).mtimeMs;
    newest = Math.max(newest, time);
  }
  return newest;
}

const stale =
  !fs.existsSync(built) ||
  fs.statSync(built).mtimeMs <
    Math.max(
      newestSource(path.join(root, "src")),
      fs.statSync(path.join(root, "tsconfig.build.json")).mtimeMs,
    );
if (stale) {
  console.log("handstamp: compiling TypeScript (src/ → dist/)");
  execFileSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.build.json")],
    {
      stdio: "inherit",
    },
  );
}
