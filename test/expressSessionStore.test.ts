// The file store behind express-session itself (src/sessions/expressSessionStore.ts), as
// someone replacing session-file-store would use it: a visit counter in a small app.
import { readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import express from "express";
import session from "express-session";
import request from "supertest";
import { ExpressFileStore } from "../src/sessions/expressSessionStore";
import { tempDir } from "./helpers";

const MINUTE = 60_000;

function counterApp(options: { ttlMs?: number; cookieMaxAgeMs?: number } = {}) {
  const dir = tempDir("handstamp-express-session-");
  const clock = { now: Date.now() };
  const store = new ExpressFileStore({ dir, ttlMs: options.ttlMs, now: () => clock.now });
  const app = express();
  app.use(
    session({
      secret: "a secret for this test only",
      store,
      genid: ExpressFileStore.genid,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: options.cookieMaxAgeMs },
    }),
  );
  app.get("/", function count(req, res) {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.type("text").send(String(req.session.visits));
  });
  app.post("/forget", function forget(req, res, next) {
    req.session.destroy((err) => (err ? next(err) : res.type("text").send("forgotten")));
  });
  return { app, dir, store, clock, files: () => readdirSync(dir).filter((name) => name.endsWith(".json")) };
}

describe("the file store under express-session", () => {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  const make = (options?: Parameters<typeof counterApp>[0]) => {
    const built = counterApp(options);
    made.push(built.dir);
    return built;
  };

  test("a visit counter persists across requests, in one private file", async () => {
    const { app, dir, files } = make();
    const browser = request.agent(app);
    for (const expected of ["1", "2", "3"]) expect((await browser.get("/")).text).toBe(expected);
    expect(files()).toHaveLength(1);
    expect(statSync(path.join(dir, files()[0]!)).mode & 0o777).toBe(0o600);
    expect((await request.agent(app).get("/")).text).toBe("1"); // another browser, its own count
  });

  test("destroy removes the session: the next visit counts from 1 again", async () => {
    const { app, files } = make();
    const browser = request.agent(app);
    await browser.get("/");
    await browser.get("/");
    expect((await browser.post("/forget")).text).toBe("forgotten");
    expect(files()).toEqual([]);
    expect((await browser.get("/")).text).toBe("1");
  });

  test("a session unused for longer than its lifetime is gone", async () => {
    const { app, clock } = make({ ttlMs: 30 * MINUTE });
    const browser = request.agent(app);
    await browser.get("/");
    clock.now += 20 * MINUTE;
    expect((await browser.get("/")).text).toBe("2"); // the save pushed the expiry forward
    clock.now += 31 * MINUTE;
    expect((await browser.get("/")).text).toBe("1");
  });

  test("a cookie with a maxAge gives the session that lifetime", async () => {
    const { app, clock, store } = make({ ttlMs: 30 * MINUTE, cookieMaxAgeMs: 10 * MINUTE });
    const browser = request.agent(app);
    await browser.get("/");
    const lengths = await new Promise<number | undefined>((resolve, reject) =>
      store.length((err, n) => (err ? reject(err) : resolve(n))),
    );
    expect(lengths).toBe(1);
    clock.now += 11 * MINUTE;
    expect((await browser.get("/")).text).toBe("1");
  });
});
