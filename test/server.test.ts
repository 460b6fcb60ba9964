// The real entry point, as `npm start` runs it: a child process with its own environment.
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cookiePair, tempDir } from "./helpers";
import { startServer, stop } from "./processes";

describe("the server process", () => {
  test("a bad configuration stops the start with one line naming each bad variable", async () => {
    const { exited } = startServer({ PORT: "eighty", SESSION_STORE: "mongo" }, tempDir());
    const run = await exited;
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^handstamp: invalid configuration: /);
    expect(lines[0]).toContain("PORT: must be a port number");
    expect(lines[0]).toContain("SESSION_STORE: must be file, memory or redis");
  });

  test("production without a secret refuses to start", async () => {
    const run = await startServer({ NODE_ENV: "production" }, tempDir()).exited;
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(
      "handstamp: invalid configuration: SESSION_SECRET: is required in production (generate one with `npm run secret`)",
    );
  });

  test("a sessions folder that cannot be created stops the start with one line", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "a-file"), "");
    const run = await startServer({ SESSION_DIR: "a-file/sessions" }, dir).exited;
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^handstamp: cannot start: ENOTDIR.*a-file\/sessions/);
  });

  test.each([
    [
      "writable by other users",
      (dir: string) => chmodSync(dir, 0o777),
      /is writable by other users \(mode 0777\).*: run `chmod 700 (\S+)`$/,
    ],
    [
      "owned by another user",
      (dir: string) => chownSync(dir, 4242, 4242),
      /belongs to another user \(uid 4242; this server runs as uid \d+\).*: run `chown \d+ (\S+) && chmod 700 \S+`/,
    ],
  ])(
    "a sessions folder %s stops the start with one line saying how to fix it",
    async (_case, spoil, expected) => {
      const dir = tempDir();
      const sessions = path.join(dir, "sessions");
      mkdirSync(sessions);
      spoil(sessions);
      const run = await startServer({}, dir).exited;
      expect(run.code).toBe(1);
      const lines = run.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^handstamp: SESSION_DIR /);
      expect(lines[0]).toMatch(expected);
      expect(expected.exec(lines[0]!)![1]).toBe(sessions);
    },
  );

  test("a sessions folder others could list (as earlier versions made it) is closed to 0700, and it says so", async () => {
    const dir = tempDir();
    const sessions = path.join(dir, "sessions");
    mkdirSync(sessions);
    chmodSync(sessions, 0o755);
    const server = startServer({}, dir);
    const url = await server.listening;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(statSync(sessions).mode & 0o777).toBe(0o700);
    const run = await stop(server);
    expect(run.stdout).toContain(
      `handstamp: SESSION_DIR ${sessions} could be listed by other users (mode 0755)`,
    );
  });

  test("without a secret outside production, it creates one (mode 0600), says so, and keeps it", async () => {
    const dir = tempDir();
    const first = startServer({}, dir);
    const url = await first.listening;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    first.child.kill("SIGTERM");
    const run = await first.exited;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("created a development secret in data/session-secret");
    const file = path.join(dir, "data", "session-secret");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, "utf8");
    expect(secret.trim()).toMatch(/^[0-9a-f]{64}$/);

    const second = startServer({}, dir);
    await second.listening;
    second.child.kill("SIGINT");
    const again = await second.exited;
    expect(again.stdout).toContain("using the development secret in data/session-secret");
    expect(readFileSync(file, "utf8")).toBe(secret);
  });

  test("a session survives a restart (same secret, same files)", async () => {
    const dir = tempDir();
    const first = startServer({}, dir);
    const url = await first.listening;
    const res = await fetch(`${url}/`);
    const cookie = cookiePair(res);
    first.child.kill("SIGTERM");
    await first.exited;

    const second = startServer({}, dir);
    const url2 = await second.listening;
    const page = await (await fetch(`${url2}/`, { headers: { cookie } })).text();
    expect(page).toContain('data-testid="visits">2<');
    second.child.kill("SIGTERM");
    await second.exited;
  });

  test("in production it logs one JSON line per request on standard output, and never a cookie", async () => {
    const server = startServer(
      { NODE_ENV: "production", SESSION_SECRET: "x".repeat(48), TRUST_PROXY: "loopback", LOG_LEVEL: "info" },
      tempDir(),
    );
    const url = await server.listening;
    const overHttps = { "X-Forwarded-Proto": "https" };
    const page = await fetch(`${url}/login?next=%2Fcart`, { headers: overHttps });
    const cookie = cookiePair(page, "__Host-csrf");
    await fetch(`${url}/cart`, { headers: { ...overHttps, cookie } });
    const run = await stop(server);
    const lines = run.stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = lines.filter((line) => line.msg === "request");
    expect(requests.map((line) => [line.method, line.url, line.status])).toEqual([
      ["GET", "/login?next=%2Fcart", 200],
      ["GET", "/cart", 200],
    ]);
    expect(run.stdout).not.toContain(cookie.split("=")[1]!);
    expect(run.stdout).not.toMatch(/cookie/i);
  });

  test("SIGTERM lets a request in flight finish before the process exits", async () => {
    const dir = tempDir();
    const server = startServer({}, dir);
    const url = await server.listening;
    // An argon2 log-in takes a while: start one, then ask the server to stop.
    const page = await fetch(`${url}/login`);
    const cookie = cookiePair(page, "csrf");
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const inFlight = fetch(`${url}/login`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: token, username: "nobody", password: "long enough" }),
      redirect: "manual",
    });
    await new Promise((r) => setTimeout(r, 5));
    server.child.kill("SIGTERM");
    expect((await inFlight).status).toBe(401);
    expect((await server.exited).code).toBe(0);
  });
});
