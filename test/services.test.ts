// `npm test` on a machine with Node only: the suites that need redis-server, PostgreSQL or Chromium are
// listed as skipped with the command that installs them; with CI=true they are a failure.
// jest.config.js is loaded here in a child node, as Jest loads it, with a PATH of our own.
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir } from "./helpers";
import { ROOT } from "./processes";

/** A PATH folder holding only these (empty, executable) programs. */
function pathWith(...programs: string[]): string {
  const dir = tempDir("handstamp-path-");
  for (const program of programs) {
    writeFileSync(path.join(dir, program), "#!/bin/sh\n");
    chmodSync(path.join(dir, program), 0o755);
  }
  return dir;
}

const LOAD_CONFIG = `const c = require("./jest.config.js");
console.log(JSON.stringify({ projects: c.projects.map((p) => p.displayName), skipped: c.reporters[1][1].skipped }));`;

function loadConfig(env: Record<string, string>) {
  return spawnSync(process.execPath, ["-e", LOAD_CONFIG], {
    cwd: ROOT,
    // No CHROMIUM_PATH: Chromium is looked up on this PATH; PostgreSQL in a folder that is not there.
    env: { POSTGRES_BIN: "/nonexistent/postgresql/bin", ...env },
    encoding: "utf8",
  });
}

describe("a machine without redis-server, PostgreSQL or Chromium", () => {
  test("npm test leaves out what needs them and lists each such suite with its install command", () => {
    const run = loadConfig({ PATH: pathWith() });
    expect(run.status).toBe(0);
    const config = JSON.parse(run.stdout) as {
      projects: string[];
      skipped: { suite: string; why: string }[];
    };
    expect(config.projects).toEqual(["file"]);
    const lines = config.skipped.map(({ suite, why }) => `${suite}: ${why}`);
    expect(lines).toContain("test/redis.test.ts: needs redis-server (apt-get install redis-server)");
    expect(lines).toContain("[redis] test/home.test.ts: needs redis-server (apt-get install redis-server)");
    expect(lines).toContain(
      "test/twoHosts.test.ts: needs /nonexistent/postgresql/bin/pg_ctl (apt-get install postgresql)",
    );
    expect(lines).toContain(
      "[postgres] test/auth.test.ts: needs /nonexistent/postgresql/bin/pg_ctl (apt-get install postgresql)",
    );
    expect(lines).toContain(
      "test/browser/flows.test.ts: needs chromium (apt-get install chromium fonts-dejavu-core)",
    );
  });

  test("with redis-server and PostgreSQL but no Chromium, only the browser suites are left out", () => {
    const programs = pathWith("redis-server", "pg_ctl");
    const run = loadConfig({ PATH: programs, POSTGRES_BIN: programs });
    const config = JSON.parse(run.stdout) as { projects: string[]; skipped: { suite: string }[] };
    expect(config.projects).toEqual(["file", "redis", "postgres"]);
    expect(config.skipped.map(({ suite }) => suite)).toEqual(["test/browser/flows.test.ts"]);
  });

  test("with CI=true, a missing program stops the run and says what to install", () => {
    const run = loadConfig({ PATH: pathWith("chromium"), CI: "true" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("CI=true and a program the tests need is not installed:");
    expect(run.stderr).toContain("redis-server is missing: apt-get install redis-server");
  });
});
