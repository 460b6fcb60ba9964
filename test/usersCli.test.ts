// `npm run users`: the commands against a test app's database and store, on SQLite and on
// PostgreSQL, and the program run as a process with the database out of reach.
import { rmSync } from "node:fs";
import path from "node:path";
import { runUsersCli } from "../src/users/cli";
import { isLoggedIn, logIn, makeTestApp, PASSWORD, signUp, tempDir, type TestApp } from "./helpers";
import { describeNeeding } from "./needs";
import { usePostgres, type PostgresServer } from "./postgresServer";
import { ROOT, startProcess } from "./processes";
import { freePort } from "./redisServer";

/** Runs the command against the test app's own config, capturing what it prints. */
async function users(t: TestApp, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runUsersCli(args, t.config, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The same tests on each engine: `env` gives the app its database. */
function usersCommandTests(env: () => Record<string, string>) {
  let t: TestApp;
  beforeAll(() => {
    t = makeTestApp(env());
  });

  test("list shows every user with when they signed up and how many sessions they have", async () => {
    await signUp(t.agent(), "lister");
    await logIn(t.agent(), "lister");
    const run = await users(t, ["list"]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^lister {14} {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}2$/m);
    expect(run.out).toMatch(/\d+ users? in /);
  });

  test("show lists one user's live sessions, with their browsers", async () => {
    await signUp(t.agent().set("User-Agent", "curl/8.0"), "shown");
    const run = await users(t, ["show", "SHOWN"]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("user shown (id ");
    expect(run.out).toContain("1 live session:");
  });

  test("delete removes the user and ends every one of their sessions, and only theirs", async () => {
    const laptop = t.agent();
    const phone = t.agent();
    const bystander = t.agent();
    await signUp(laptop, "leaving");
    await logIn(phone, "leaving");
    await signUp(bystander, "staying");
    const before = await t.storedIds();
    const run = await users(t, ["delete", "leaving"]);
    expect(run).toMatchObject({ code: 0, out: "Deleted leaving; 2 sessions ended." });
    // Their records are gone from the store, not only refused at the next request.
    expect((await t.storedIds()).length).toBe(before.length - 2);
    expect(await isLoggedIn(laptop)).toBe(false);
    expect(await isLoggedIn(phone)).toBe(false);
    expect(await isLoggedIn(bystander)).toBe(true);
    expect((await logIn(t.agent(), "leaving", PASSWORD)).status).toBe(401);
    expect((await users(t, ["list"])).out).not.toMatch(/^leaving /m);
  });

  test("an unknown name, a missing name, an unknown command: a message and a non-zero exit", async () => {
    expect(await users(t, ["show", "nobody-here"])).toMatchObject({
      code: 1,
      err: 'No user named "nobody-here".',
    });
    expect(await users(t, ["delete"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("one user name"),
    });
    expect(await users(t, ["frobnicate"])).toMatchObject({ code: 2, err: expect.stringContaining("usage:") });
    expect(await users(t, [])).toMatchObject({ code: 2, err: expect.stringContaining("usage:") });
    expect(await users(t, ["--help"])).toMatchObject({
      code: 0,
      out: expect.stringContaining("delete NAME"),
    });
  });
}

describe("npm run users on SQLite", () => {
  usersCommandTests(() => ({}));
});

describeNeeding(["postgres"], "npm run users on PostgreSQL", () => {
  const postgres: PostgresServer = usePostgres();
  usersCommandTests(() => ({ DATABASE_URL: postgres.newDatabaseUrl() }));
});

test("npm run users with PostgreSQL out of reach exits 1 at once with one line, the password masked", async () => {
  const dir = tempDir();
  const port = await freePort(); // nothing listens there
  const url = `postgres://handstamp:pa55word@127.0.0.1:${port}/handstamp`;
  const started = startProcess(
    path.join(ROOT, "src", "users", "cli.ts"),
    ["list"],
    { DATABASE_URL: url },
    dir,
  );
  const deadline = setTimeout(() => started.child.kill("SIGKILL"), 20_000);
  try {
    const run = await started.exited;
    expect(run.code).toBe(1); // a hang would be killed: code null
    expect(run.stderr.trim().split("\n")).toEqual([
      expect.stringContaining(
        `the database at postgres://handstamp:***@127.0.0.1:${port}/handstamp does not answer`,
      ),
    ]);
    expect(run.stdout + run.stderr).not.toContain("pa55word");
  } finally {
    clearTimeout(deadline);
    rmSync(dir, { recursive: true, force: true });
  }
});
