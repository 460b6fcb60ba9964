import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import request from "supertest";
import {
  cookiePair,
  csrfFrom,
  logIn,
  setCookieHeaders,
  logOut,
  sessionIdFrom,
  signUp,
  tempDir,
  useTestApp,
  visits,
} from "./helpers";

/** The session's file as a learner opens it: its record, expiry first, then the data. */
function recordIn(file: string): { expiresAt: string; [field: string]: unknown } {
  return JSON.parse(readFileSync(file, "utf8"));
}

describe("sessions as files on disk", () => {
  const t = useTestApp();

  test("a visit creates one file named by the session id, holding the count", async () => {
    const browser = t.agent();
    const res = await browser.get("/");
    const id = sessionIdFrom(res)!;
    expect(t.sessionFiles()).toContain(id);
    const file = path.join(t.config.sessionDir, `${id}.json`);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ visits: 1 });
    await visits(browser);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ visits: 2 });
  });

  test("a request that stores nothing creates no file", async () => {
    const before = t.sessionFiles();
    await request(t.app).get("/secret/nothing-here");
    await request(t.app).get("/healthz");
    expect(t.sessionFiles()).toEqual(before);
  });

  test("the session file appears after log-in and is gone after log-out", async () => {
    await signUp(t.agent(), "disk-user");
    const browser = t.agent();
    const res = await logIn(browser, "disk-user");
    const id = sessionIdFrom(res)!;
    const file = path.join(t.config.sessionDir, `${id}.json`);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ user: { name: "disk-user" } });
    await logOut(browser);
    expect(() => statSync(file)).toThrow(/ENOENT/);
  });

  test("a page that only reads the session leaves its data alone, and pushes its expiry", async () => {
    const browser = t.agent();
    await signUp(browser, "reader");
    await browser.get("/"); // consumes the welcome flash
    const id = t
      .sessionFiles()
      .find((s) => readFileSync(path.join(t.config.sessionDir, `${s}.json`), "utf8").includes('"reader"'))!;
    const file = path.join(t.config.sessionDir, `${id}.json`);
    const { expiresAt: expiryBefore, ...before } = recordIn(file);
    await new Promise((r) => setTimeout(r, 20));
    await browser.get("/secret");
    const { expiresAt, ...after } = recordIn(file);
    expect(after).toEqual(before);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.parse(expiryBefore));
    // The mtime follows, as the sweep's hint: `ls -l --time-style=full-iso` shows the expiry.
    expect(Math.round(statSync(file).mtimeMs)).toBe(Date.parse(expiresAt));
  });

  test.each([
    [
      "saved from an editor",
      (file: string) => writeFileSync(file, readFileSync(file, "utf8").replace('"visits":2', '"visits":41')),
    ],
    ["changed with sed -i", (file: string) => execFileSync("sed", ["-i", 's/"visits":2/"visits":41/', file])],
  ])(
    "a session file %s by hand keeps its session, and the page shows the edited count",
    async (_case, edit) => {
      const browser = t.agent();
      const id = sessionIdFrom(await browser.get("/"))!;
      expect(await visits(browser)).toBe(2);
      edit(path.join(t.config.sessionDir, `${id}.json`));
      expect(await visits(browser)).toBe(42);
      expect(await t.storage.store.sweep()).toBe(0);
      expect(await visits(browser)).toBe(43);
    },
  );

  test.each([
    ["a FIFO", (file: string) => execFileSync("mkfifo", [file])],
    ["a link to a file outside the folder", (file: string, outside: string) => symlinkSync(outside, file)],
  ])("%s under a session's name is no session: the page answers, with a new one", async (_case, plant) => {
    const browser = t.agent();
    const id = sessionIdFrom(await browser.get("/"))!;
    const file = path.join(t.config.sessionDir, `${id}.json`);
    const outside = path.join(tempDir(), "outside.json");
    const stolen = readFileSync(file, "utf8").replace('"visits":1', '"visits":77');
    writeFileSync(outside, stolen);
    rmSync(file);
    plant(file, outside);

    const res = await browser.get("/");
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-testid="visits">1<');
    expect(sessionIdFrom(res)).not.toBe(id);
    expect(await visits(browser)).toBe(2);
    expect(readFileSync(outside, "utf8")).toBe(stolen);
  });

  test("the sessions folder and its locks folder are the server's alone (0700), each file 0600", async () => {
    const browser = t.agent();
    const id = sessionIdFrom(await browser.get("/"))!;
    const mode = (file: string) => statSync(file).mode & 0o777;
    expect(mode(t.config.sessionDir)).toBe(0o700);
    expect(mode(path.join(t.config.sessionDir, ".locks"))).toBe(0o700);
    expect(mode(path.join(t.config.sessionDir, `${id}.json`))).toBe(0o600);
  });

  test("fifty overlapping /healthz probes all answer 200", async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => request(t.app).get("/healthz")));
    expect(answers.map((res) => res.status)).toEqual(answers.map(() => 200));
  });

  test("a session whose file was deleted is gone: the visitor starts again", async () => {
    const browser = t.agent();
    const id = sessionIdFrom(await browser.get("/"))!;
    expect(await visits(browser)).toBe(2);
    rmSync(path.join(t.config.sessionDir, `${id}.json`), { force: true });
    expect(await visits(browser)).toBe(1);
  });

  test("a corrupt session file is a fresh start for that visitor, not a 500", async () => {
    const browser = t.agent();
    const first = await browser.get("/");
    const id = sessionIdFrom(first)!;
    const file = path.join(t.config.sessionDir, `${id}.json`);
    const { atime, mtime } = statSync(file);
    require("node:fs").writeFileSync(file, "{not json");
    require("node:fs").utimesSync(file, atime, mtime);
    const res = await browser.get("/");
    expect(res.status).toBe(200);
    expect(await visits(browser)).toBe(2);
  });

  test("a well-signed cookie for an unknown id gets a fresh id, not that one", async () => {
    const browser = t.agent();
    const id = sessionIdFrom(await browser.get("/"))!;
    rmSync(path.join(t.config.sessionDir, `${id}.json`));
    const res = await browser.get("/");
    const fresh = sessionIdFrom(res)!;
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(id);
  });

  test.each([
    ["a forged signature", (c: string) => c.replace(/\.[^.]+$/, ".forged")],
    ["garbage", () => "sid=%%%garbage"],
    ["an oversized cookie", () => `sid=s%3A${"a".repeat(3000)}.sig`],
    ["a path as the id", () => "sid=s%3A..%2F..%2Fetc%2Fpasswd.sig"],
  ])("a cookie with %s is never adopted", async (_case, tamper) => {
    const first = await request(t.app).get("/");
    const cookie = cookiePair(first);
    const res = await request(t.app).get("/").set("Cookie", tamper(cookie));
    expect(res.status).toBe(200);
    expect(res.text).toContain('data-testid="visits">1<');
    const id = sessionIdFrom(res)!;
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("the session id", () => {
  const t = useTestApp();

  test("is 256 random bits in base64url, different for every visitor", async () => {
    const ids = await Promise.all(
      Array.from({ length: 20 }, async () => sessionIdFrom(await request(t.app).get("/"))!),
    );
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(ids).size).toBe(20);
  });

  test("travels in an HttpOnly, SameSite=Lax cookie that ends with the browser", async () => {
    const res = await request(t.app).get("/");
    const cookie = setCookieHeaders(res)[0]!;
    expect(cookie).toMatch(/^sid=s%3A/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Max-Age|Expires|Domain/i);
  });
});

describe("in production", () => {
  const t = useTestApp({ NODE_ENV: "production", TRUST_PROXY: "loopback" });

  test("the cookie is __Host-sid, Secure, HttpOnly, SameSite=Lax, Path=/, with no Domain", async () => {
    const res = await request(t.app).get("/").set("X-Forwarded-Proto", "https");
    const cookie = setCookieHeaders(res)[0]!;
    expect(cookie).toMatch(/^__Host-sid=s%3A/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain/i);
  });

  test("no session cookie is ever sent over plain http", async () => {
    const res = await request(t.app).get("/");
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  test("a server fault gets a 500 page with no stack trace (last: it closes the database)", async () => {
    // A cookie jar keeps Secure cookies from plain-http requests: carry it by hand.
    const page = await request(t.app).get("/login").set("X-Forwarded-Proto", "https");
    const cookie = cookiePair(page, "__Host-csrf");
    t.db.close();
    const res = await request(t.app)
      .post("/login")
      .set("X-Forwarded-Proto", "https")
      .set("Cookie", cookie)
      .type("form")
      .send({ _csrf: csrfFrom(page.text), username: "anyone", password: "whatever!" });
    expect(res.status).toBe(500);
    expect(res.text).toContain("Something went wrong");
    expect(res.text).not.toContain("database connection is not open");
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect((await request(t.app).get("/healthz")).status).toBe(503);
  });
});

describe("the sweep", () => {
  const t = useTestApp({ SESSION_SWEEP_INTERVAL: "1s" });

  test("the server removes expired session files on its own, every SESSION_SWEEP_INTERVAL", async () => {
    const expired = sessionIdFrom(await request(t.app).get("/"))!;
    const live = sessionIdFrom(await request(t.app).get("/"))!;
    const file = path.join(t.config.sessionDir, `${expired}.json`);
    const past = new Date(Date.now() - 60_000).toISOString(); // the expiry is in the record
    writeFileSync(file, readFileSync(file, "utf8").replace(/"expiresAt":"[^"]+"/, `"expiresAt":"${past}"`));
    for (let waited = 0; t.sessionFiles().includes(expired) && waited < 5_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(t.sessionFiles()).not.toContain(expired);
    expect(t.sessionFiles()).toContain(live);
  });
});
