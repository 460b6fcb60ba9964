// Three projects, one `npm test`: every test once (file store and SQLite, the defaults), the
// app's tests a second time against Redis (test/onRedis.ts sets HANDSTAMP_TEST_STORE; the
// helpers then start a redis-server per test file and point every app at it), and the
// account tests a second time on PostgreSQL (test/onPostgres.ts sets HANDSTAMP_TEST_DATABASE;
// the helpers start a cluster per test file and give every app a database of its own).
// Suites that need a program Node does not bring (test/services.js) are left out where it is
// missing, and listed at the end as skipped; with CI=true a missing one stops the run.
const fs = require("node:fs");
const path = require("node:path");
const { SERVICES, isCI, missingServices } = require("./test/services");

/** The tests of what a visitor does, whatever the store. */
const APP_TESTS = [
  "home",
  "auth",
  "cart",
  "account",
  "inspector",
  "throttle",
  "badInput",
  "cookieless",
  "flash",
];

/** The tests of what a user's account does, whatever the database. */
const ACCOUNT_TESTS = ["auth", "account", "lifecycle", "revokedMidRequest"];

const missing = missingServices();
if (isCI() && Object.keys(missing).length > 0) {
  const lines = Object.values(missing).map(({ program, install }) => `  ${program} is missing: ${install}`);
  throw new Error(`CI=true and a program the tests need is not installed:\n${lines.join("\n")}`);
}

/** The test files under a path relative to the project (a file, or a folder ending in /). */
function testFiles(relative) {
  const full = path.join(__dirname, relative);
  if (!relative.endsWith("/")) return fs.existsSync(full) ? [relative] : [];
  return fs
    .readdirSync(full, { recursive: true })
    .filter((name) => String(name).endsWith(".test.ts"))
    .map((name) => path.posix.join(relative, String(name)))
    .sort();
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What is not run here, for test/skippedReporter.js: one entry per suite. */
const skipped = [];
const ignored = [];
const droppedProjects = new Set();
for (const [name, { program, install }] of Object.entries(missing)) {
  const why = `needs ${program} (${install})`;
  for (const relative of SERVICES[name].files) {
    ignored.push(`<rootDir>/${escape(relative)}`);
    for (const file of testFiles(relative)) skipped.push({ suite: file, why });
  }
  for (const project of SERVICES[name].projects) {
    droppedProjects.add(project);
    const tests = project === "postgres" ? ACCOUNT_TESTS : APP_TESTS;
    for (const test of tests) skipped.push({ suite: `[${project}] test/${test}.test.ts`, why });
  }
}

const common = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testPathIgnorePatterns: ["/node_modules/", ...ignored],
  // For describeNeeding() (test/needs.ts): the tests that need a service in part.
  globals: { missingServices: missing },
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30_000,
  reporters: ["default", ["<rootDir>/test/skippedReporter.js", { skipped }]],
  projects: [
    { ...common, displayName: "file", testMatch: ["**/*.test.ts"] },
    {
      ...common,
      displayName: "redis",
      testMatch: APP_TESTS.map((name) => `**/test/${name}.test.ts`),
      setupFiles: ["<rootDir>/test/onRedis.ts"],
    },
    {
      ...common,
      displayName: "postgres",
      testMatch: ACCOUNT_TESTS.map((name) => `**/test/${name}.test.ts`),
      setupFiles: ["<rootDir>/test/onPostgres.ts"],
    },
  ].filter((project) => !droppedProjects.has(project.displayName)),
};
