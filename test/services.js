// The programs some test suites need besides Node, and which are missing here. jest.config.js
// reads this: without CI, the suites that need a missing program are not run and are listed
// as skipped at the end (test/skippedReporter.js) with the command that installs it; with
// CI=true a missing program fails the run, since CI installs them all (.ci/run).
const fs = require("node:fs");
const path = require("node:path");

/**
 * Where PostgreSQL's server programs are: POSTGRES_BIN, the folder of an initdb on PATH, or
 * else the newest /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
 */
function postgresBinDir(env = process.env) {
  if (env.POSTGRES_BIN) return env.POSTGRES_BIN;
  const onPath = locate("initdb", env);
  if (onPath) return path.dirname(fs.realpathSync(onPath));
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return versions
    .map((v) => path.join(root, v, "bin"))
    .find((dir) => fs.existsSync(path.join(dir, "pg_ctl")));
}

/**
 * One entry per service. `files`: test files (or folders, ending in /) that need it whole;
 * `projects`: Jest projects that need it whole (every file in them); tests needing it in
 * part use describeNeeding() from test/needs.ts. A new service is one more entry here.
 */
const SERVICES = {
  redis: {
    program: "redis-server",
    install: "apt-get install redis-server",
    files: ["test/redis.test.ts", "test/redisPause.test.ts"],
    projects: ["redis"],
  },
  postgres: {
    // test/postgresServer.ts runs initdb and pg_ctl from this folder.
    program: path.join(postgresBinDir() ?? "", "pg_ctl"),
    install: "apt-get install postgresql",
    files: ["test/postgres.test.ts", "test/twoHosts.test.ts", "test/postgresFaults.test.ts"],
    projects: ["postgres"],
  },
  chromium: {
    // What test/browser/chromium.ts launches: CHROMIUM_PATH, or Debian's chromium.
    program: process.env.CHROMIUM_PATH ?? "chromium",
    install: "apt-get install chromium fonts-dejavu-core",
    files: ["test/browser/"],
    projects: [],
  },
};

/** The program's full path if it is a file (given with a /) or found on PATH. */
function locate(program, env = process.env) {
  const candidates = program.includes("/")
    ? [program]
    : (env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir || ".", program));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** The services whose program is missing, by name, each with how to install it. */
function missingServices(env = process.env, services = SERVICES) {
  return Object.fromEntries(
    Object.entries(services)
      .filter(([, service]) => !locate(service.program, env))
      .map(([name, service]) => [name, { program: service.program, install: service.install }]),
  );
}

/** CI as .ci/run sets it: there, a missing service is a failure, never a skip. */
const isCI = (env = process.env) => /^(1|true|yes)$/i.test(env.CI ?? "");

module.exports = { SERVICES, locate, missingServices, isCI, postgresBinDir };
