// What a visitor reads, and what the operator's log holds, when something goes wrong:
// handlers throw NotFound or BadRequest, and every 503 (the session store, a busy session,
// the limiters) says what cannot be done and when to come back, and logs the whole error.
import { writeFileSync } from "node:fs";
import path from "node:path";
import express from "express";
import request from "supertest";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { createThrottle, type LimiterFactory } from "../src/auth/throttle";
import { BadRequest, errorHandler, NotFound, ServiceUnavailable } from "../src/http/errors";
import { createViews } from "../src/http/views";
import { LimiterUnavailable, SessionStoreUnavailable } from "../src/sessions/errors";
import { SessionBusy } from "../src/sessions/lock";
import { capturedLog, csrfOf, sessionIdFrom, signUp, useTestApp } from "./helpers";

type Line = Record<string, unknown> & { err?: Record<string, unknown> };

/** A bare app with the site's views and error handler, whose one page throws `err`. */
function throwing(err: unknown) {
  const log = capturedLog();
  const app = express();
  createViews(false).express(app);
  app.set("view engine", "njk");
  app.locals.takeFlashes = () => [];
  app.locals.csrfToken = () => "";
  app.get("/page", function fail() {
    throw err;
  });
  app.use(errorHandler({ logger: log.logger, isCsrfError: () => false, showStack: false }));
  return { app, lines: () => log.lines() as Line[] };
}

const cause = () => new Error("connect ECONNREFUSED 127.0.0.1:6379");

describe("errors a handler throws", () => {
  test.each([
    ["NotFound", new NotFound(), 404, "There is nothing at this address."],
    ["BadRequest", new BadRequest("To end this session, log out."), 400, "To end this session, log out."],
  ])("%s gives its page and status", async (_name, err, status, text) => {
    const { app, lines } = throwing(err);
    const res = await request(app).get("/page");
    expect(res.status).toBe(status);
    expect(res.text).toContain(text);
    expect(lines()).toEqual([]);
  });

  test.each([
    [
      "the session store is unreachable",
      new SessionStoreUnavailable("get", cause()),
      "5",
      "Sessions cannot be stored right now.",
    ],
    [
      "the limiters are unreachable",
      new LimiterUnavailable("throttle tryAccount", cause()),
      "5",
      "Log-in and sign-up attempts cannot be counted right now.",
    ],
  ])(
    "when %s: a 503 saying so, Retry-After, and the whole error in the log",
    async (_case, err, retry, text) => {
      const { app, lines } = throwing(err);
      const res = await request(app).get("/page");
      expect(res.status).toBe(503);
      expect(res.headers["retry-after"]).toBe(retry);
      expect(res.text).toContain(text);
      expect(res.text).not.toContain("ECONNREFUSED"); // the visitor gets no internals
      const [line, ...others] = lines();
      expect(others).toEqual([]);
      expect(line!.url).toBe("/page");
      // The error itself, not its message: its type, its stack, and the failure underneath.
      expect(line!.err).toMatchObject({ type: err.name });
      expect(String(line!.err!.stack)).toContain("errors.test.ts");
      expect(JSON.stringify(line!.err)).toContain("connect ECONNREFUSED 127.0.0.1:6379");
    },
  );

  test("a busy session gets a 503 with a shorter Retry-After, and is no news for the log", async () => {
    const { app, lines } = throwing(new SessionBusy());
    const res = await request(app).get("/page");
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("2");
    expect(res.text).toContain("still busy with another request");
    expect(lines()).toEqual([]);
  });
});

describe("the throttle when its counts are out of reach (Redis down)", () => {
  // Limiters whose every call fails, as rate-limiter-flexible's Redis ones do without Redis.
  const unreachable: LimiterFactory = (options) => {
    const limiter = new RateLimiterMemory(options);
    const fail = () => Promise.reject(cause());
    return Object.assign(limiter, { consume: fail, get: fail, block: fail, penalty: fail, delete: fail });
  };
  const throttle = createThrottle({ points: 10, windowMs: 60_000 }, unreachable);

  test.each([
    ["an address's try", () => throttle.tryAddress("203.0.113.7")],
    ["an account's try", () => throttle.tryAccount("someone", false)],
    ["a wrong password", () => throttle.wrongPassword("someone", false)],
  ])("%s fails as a limiter outage (a 503 that says so)", async (_case, attempt) => {
    const failure = await attempt().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(LimiterUnavailable);
    expect(failure).toBeInstanceOf(ServiceUnavailable);
    expect(failure).toMatchObject({ status: 503, retryAfterSeconds: 5 });
    expect((failure as Error).cause).toBeInstanceOf(Error);
  });
});

describe("on the site", () => {
  const log = capturedLog();
  const t = useTestApp({ SESSION_STORE: "file" }, { logger: log.logger });

  test("ending this very session from the sessions page is refused with a page saying to log out", async () => {
    const agent = t.agent();
    await signUp(agent, "owner");
    const [{ handle }] = (await t.db.query<{ handle: string }>(
      "SELECT l.handle FROM logins l JOIN users u ON u.id = l.user_id WHERE u.username = 'owner'",
    )) as [{ handle: string }];
    const _csrf = await csrfOf(agent, "/account/sessions");
    const res = await agent.post(`/account/sessions/${handle}/revoke`).type("form").send({ _csrf });
    expect(res.status).toBe(400);
    expect(res.text).toContain("To end this session, log out.");
    expect((await agent.get("/secret")).status).toBe(200);
  });

  test("a corrupt session file is logged with its whole error, not just the message", async () => {
    const agent = t.agent();
    const id = sessionIdFrom(await agent.get("/"))!;
    writeFileSync(path.join(t.config.sessionDir, `${id}.json`), "{ not json");
    const before = log.lines().length;
    await agent.get("/");
    const warning = (log.lines().slice(before) as Line[]).find((line) =>
      String(line.msg).startsWith("session file is unreadable or corrupt"),
    );
    expect(warning?.err).toMatchObject({ type: "SyntaxError" });
    expect(String(warning!.err!.stack)).toMatch(/SyntaxError: .*JSON/);
  });
});
