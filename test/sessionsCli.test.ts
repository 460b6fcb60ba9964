// `npm run sessions`: the commands against a test app's store, and the program itself run as
// a process, as an operator runs it.
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runSessionsCli } from "../src/sessions/cli";
import { generateSessionId } from "../src/sessions/ids";
import { createClient } from "redis";
import { logIn, makeTestApp, signUp, tempDir, useTestApp, visits } from "./helpers";
import { ROOT, startProcess } from "./processes";
import { describeNeeding } from "./needs";
import { freePort, useRedis } from "./redisServer";

const MINUTE = 60_000;

/** Runs the command against the test app's own config, capturing what it prints. */
async function sessions(config: Parameters<typeof runSessionsCli>[1], args: string[], now?: () => number) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSessionsCli(args, config, { out: (l) => out.push(l), err: (l) => err.push(l), now });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("npm run sessions", () => {
  const t = useTestApp();
  beforeAll(async () => {
    await signUp(t.agent(), "cli-user");
    await logIn(t.agent(), "cli-user");
    await visits(t.agent());
  });

  test("list shows each live session with its short id, user, creation and expiry", async () => {
    const run = await sessions(t.config, ["list"]);
    expect(run.code).toBe(0);
    const rows = run.out.split("\n").slice(1, -1);
    expect(rows).toHaveLength(t.sessionFiles().length);
    expect(run.out).toMatch(/\bcli-user\b/);
    for (const row of rows)
      expect(row).toMatch(
        /^[A-Za-z0-9_-]{8} {2}\S.* {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}in (29|30) min$/,
      );
    expect(run.out).not.toContain(t.sessionFiles()[0]); // never the whole id
    expect(run.out).toMatch(/\d+ live sessions? in /);
  });

  test("show hides the CSRF token of a record written by an earlier version", async () => {
    // Tokens are no longer kept in sessions (src/http/csrf.ts), but older records hold one.
    const id = generateSessionId();
    const data = { cookie: { originalMaxAge: null, httpOnly: true, path: "/" }, csrfToken: "from-csrf-sync" };
    await t.storage.store.set(id, data as never, 30 * 60_000);
    const run = await sessions(t.config, ["show", id.slice(0, 12)]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('"csrfToken": "(hidden)"');
    expect(run.out).not.toContain("from-csrf-sync");
  });

  test("a corrupt session file is skipped, with a warning that says what is wrong with it", async () => {
    const id = generateSessionId();
    writeFileSync(
      path.join(t.config.sessionDir, `${id}.json`),
      '{"expiresAt": "2099-01-01T00:00:00.000Z", "visits": ',
    );
    try {
      const run = await sessions(t.config, ["list"]);
      expect(run.code).toBe(0);
      expect(run.err).toContain(`session file is unreadable or corrupt: treated as no session`);
      expect(run.err).toContain(`"file":"${id}.json"`);
      expect(run.err).toMatch(/"err":"[^"]*JSON[^"]*"/); // the parser's own words, not {}
      expect(run.out).not.toContain(id.slice(0, 8));
    } finally {
      rmSync(path.join(t.config.sessionDir, `${id}.json`));
    }
  });

  test("show says so when no session or several match", async () => {
    expect(await sessions(t.config, ["show", "zzzzzzzzzzzzzzzz"])).toMatchObject({
      code: 1,
      err: expect.stringContaining("No live session"),
    });
    expect(await sessions(t.config, ["show"])).toMatchObject({ code: 2 });
    expect(await sessions(t.config, ["show", ""])).toMatchObject({ code: 2 });
  });

  test("clear-expired removes only the sessions past their idle timeout", async () => {
    const before = t.sessionFiles().length;
    expect(await sessions(t.config, ["clear-expired"])).toMatchObject({
      code: 0,
      out: "Removed 0 expired sessions.",
    });
    expect(t.sessionFiles()).toHaveLength(before);
    const later = () => Date.now() + 31 * MINUTE;
    expect(await sessions(t.config, ["clear-expired"], later)).toMatchObject({
      code: 0,
      out: `Removed ${before} expired sessions.`,
    });
    expect(t.sessionFiles()).toHaveLength(0);
  });

  test("clear-all asks for --yes, then removes everything", async () => {
    await visits(t.agent());
    expect(await sessions(t.config, ["clear-all"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("--yes"),
    });
    expect(t.sessionFiles().length).toBeGreaterThan(0);
    expect((await sessions(t.config, ["clear-all", "--yes"])).code).toBe(0);
    expect(readdirSync(t.config.sessionDir).filter((f) => f.endsWith(".json"))).toEqual([]);
  });

  test("an unknown command or none prints the usage and fails", async () => {
    expect(await sessions(t.config, ["frobnicate"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("usage:"),
    });
    expect(await sessions(t.config, [])).toMatchObject({ code: 2, err: expect.stringContaining("usage:") });
    expect(await sessions(t.config, ["--help"])).toMatchObject({
      code: 0,
      out: expect.stringContaining("clear-expired"),
    });
  });

  test("the memory store cannot be seen from another process, and says so", async () => {
    const run = await sessions({ ...t.config, sessionStore: "memory" }, ["list"]);
    expect(run).toMatchObject({ code: 1, err: expect.stringContaining("inside the server process") });
  });
});

/**
 * The sessions command run as `npm run sessions -- …` runs it (tsx instead of the build),
 * killed if it has not exited after `deadlineMs`: a run that hangs fails with code null.
 */
async function sessionsProcess(env: Record<string, string>, args: string[], deadlineMs = 20_000) {
  const dir = tempDir();
  const started = startProcess(path.join(ROOT, "src", "sessions", "cli.ts"), args, env, dir);
  const deadline = setTimeout(() => started.child.kill("SIGKILL"), deadlineMs);
  try {
    return await started.exited;
  } finally {
    clearTimeout(deadline);
    rmSync(dir, { recursive: true, force: true });
  }
}

describeNeeding(["redis"], "npm run sessions as a process", () => {
  const redis = useRedis();

  test("list on Redis shows each session's expiry, and the Redis URL with its password masked", async () => {
    const admin = createClient({ url: redis.url });
    await admin.connect();
    await admin.sendCommand(["ACL", "SETUSER", "operator", "on", ">pa55word", "~*", "+@all"]);
    admin.destroy();
    const t = makeTestApp({ SESSION_STORE: "redis", REDIS_URL: redis.url });
    await visits(t.agent());
    const url = redis.url.replace("//", "//operator:pa55word@");
    const run = await sessionsProcess({ SESSION_STORE: "redis", REDIS_URL: url }, ["list"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}in (29|30) min\n/);
    expect(run.stdout).toContain(`1 live session in Redis at redis://operator:***@127.0.0.1:${redis.port}`);
    expect(run.stdout + run.stderr).not.toContain("pa55word");
  });

  test("with Redis unreachable, it exits non-zero with the error, and never shows the password", async () => {
    const closedPort = await freePort();
    const run = await sessionsProcess(
      { SESSION_STORE: "redis", REDIS_URL: `redis://:pa55word@127.0.0.1:${closedPort}` },
      ["list"],
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Redis at redis://:***@127.0.0.1:${closedPort} is not reachable`);
    expect(run.stdout + run.stderr).not.toContain("pa55word");
  });
});
