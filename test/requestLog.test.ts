// The request log: one line per request, written when the answer is done or the visitor
// gave up, with what an operator needs to follow it and never a cookie.
import { request as httpRequest } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import express from "express";
import request from "supertest";
import { requestLogging } from "../src/http/requestLog";
import { capturedLog, cookiePair, useTestApp } from "./helpers";

type Line = Record<string, unknown>;
const linesOf = (log: ReturnType<typeof capturedLog>) => log.lines() as Line[];

describe("the request log of the site", () => {
  const log = capturedLog();
  const t = useTestApp({}, { logger: log.logger });

  test("a page view writes exactly one line: method, url, status and milliseconds", async () => {
    const before = linesOf(log).length;
    await request(t.app).get("/login?next=%2Fcart");
    await request(t.app).get("/healthz"); // the line of the first is written by the time this one answers
    const lines = linesOf(log).slice(before);
    const ofLogin = lines.filter((line) => String(line.url).startsWith("/login"));
    expect(ofLogin).toHaveLength(1);
    const [line] = ofLogin;
    expect(line).toMatchObject({ msg: "request", method: "GET", url: "/login?next=%2Fcart", status: 200 });
    expect(typeof line!.ms).toBe("number");
    expect(line!.ms).toBeGreaterThanOrEqual(0);
  });

  test("one line per request, whatever the status", async () => {
    const before = linesOf(log).length;
    await request(t.app).get("/no-such-page");
    await request(t.app).post("/login").type("form").send("username=x"); // no CSRF token
    await request(t.app).get("/secret"); // a redirect to the log-in page
    await request(t.app).get("/healthz");
    const statuses = linesOf(log)
      .slice(before, before + 3)
      .map((line) => [line.method, line.url, line.status]);
    expect(statuses).toEqual([
      ["GET", "/no-such-page", 404],
      ["POST", "/login", 403],
      ["GET", "/secret", 303],
    ]);
  });

  test("no cookie and no Set-Cookie ever reach the log", async () => {
    const first = await request(t.app).get("/");
    const cookie = cookiePair(first);
    const before = linesOf(log).length;
    await request(t.app).get("/").set("Cookie", `${cookie}; other=visible-nowhere`);
    await request(t.app).get("/healthz");
    const written = JSON.stringify(linesOf(log).slice(before));
    expect(written).not.toMatch(/cookie/i);
    expect(written).not.toContain(cookie.split("=")[1]!);
    expect(written).not.toContain("visible-nowhere");
  });
});

describe("the request log's middleware", () => {
  /** A bare Express app with the request log and one page, listening on a free port. */
  async function serve(page: express.RequestHandler) {
    const log = capturedLog();
    const app = express();
    app.use(requestLogging(log.logger));
    app.get("/page", page);
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    return { log, port, close: () => server.close() };
  }

  test("the session layer's timings, when it gives them, are part of the line, to 10 µs", async () => {
    const { log, port, close } = await serve((_req, res) => {
      res.locals.sessionTimings = { lockWaitMs: 0.1, loadMs: 0.04321987654321, saveMs: 1.2059 };
      res.send("done");
    });
    try {
      await fetch(`http://127.0.0.1:${port}/page`);
      await fetch(`http://127.0.0.1:${port}/other`);
      const [line] = linesOf(log);
      expect(line).toMatchObject({
        url: "/page",
        status: 200,
        session: { lockWaitMs: 0.1, loadMs: 0.04, saveMs: 1.21 },
      });
      expect(linesOf(log)).toHaveLength(2);
    } finally {
      close();
    }
  });

  test("a request the visitor abandons gets its one line too, marked aborted", async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const { log, port, close } = await serve(() => arrived()); // never answers
    try {
      const client = httpRequest({ host: "127.0.0.1", port, path: "/page" });
      client.on("error", () => {}); // we hang up ourselves
      client.end();
      await arrival;
      client.destroy();
      while (linesOf(log).length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 50)); // a second line would come now
      expect(linesOf(log)).toEqual([
        expect.objectContaining({ msg: "request aborted", url: "/page", aborted: true }),
      ]);
    } finally {
      close();
    }
  });
});
