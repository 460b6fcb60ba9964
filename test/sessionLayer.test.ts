// What the session layer (src/sessions/sessionLayer.ts) sends and keeps, as a browser sees
// it: one session cookie per response at most, re-signed once after a secret rotation,
// with Max-Age when it has a lifetime, and nothing claimed when a save fails.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { unsign } from "cookie-signature";
import express from "express";
import { pino } from "pino";
import request from "supertest";
import { createAdmission } from "../src/sessions/admission";
import { generateSessionId } from "../src/sessions/ids";
import { sessionLayer } from "../src/sessions/sessionLayer";
import { createSessionStorage } from "../src/sessions/storage";
import { until } from "./processes";
import {
  cookiePair,
  csrfFrom,
  logIn,
  makeTestApp,
  reopen,
  setCookieHeaders,
  signUp,
  TEST_SECRET,
  visits,
  type TestApp,
  signedCookie,
  isLoggedIn,
  logOut,
  tempDir,
  testConfig,
  openFilesIn,
} from "./helpers";

/** The session layer alone (file store, no log-in check) in an app for a test's own routes. */
function layerAlone(env: Record<string, string> = {}) {
  const dir = tempDir();
  const config = testConfig(dir, env);
  const logger = pino({ level: "silent" });
  const storage = createSessionStorage(config, { logger });
  const layer = sessionLayer(config, {
    storage,
    admission: createAdmission(config, { logger }),
    loginSessions: { check: async (_req, _res, next) => next() },
    now: Date.now,
    onError: () => undefined,
  });
  const app = express();
  app.use(layer.openSession);
  return { app, storage, dir, layer };
}

const sessionLines = (res: { headers: Record<string, unknown> }) =>
  setCookieHeaders(res).filter((line) => line.startsWith("sid="));

describe("the session cookie", () => {
  let t: TestApp;
  beforeAll(() => {
    t = makeTestApp();
  });

  test("a first visit that stores something gets one cookie, ending with the browser", async () => {
    const res = await request(t.app).get("/");
    const lines = sessionLines(res);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sid=s%3A[A-Za-z0-9_-]{43}\.[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  test("log-in (a new id, saved before the redirect) sends the session cookie once", async () => {
    await signUp(t.agent(), "once");
    const res = await logIn(t.agent(), "once");
    expect(res.status).toBe(303);
    expect(sessionLines(res)).toHaveLength(1);
  });

  test("a remembered log-in's cookie is sent again with its Max-Age when the session changes", async () => {
    await signUp(t.agent(), "kept");
    const agent = t.agent();
    await logIn(agent, "kept", undefined, { remember: "on" });
    const res = await agent.get("/"); // counts a visit: the session changes
    const lines = sessionLines(res);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/; Max-Age=259\d{4}; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
  });

  test("log-out deletes the session and clears its cookie, once", async () => {
    const agent = t.agent();
    await signUp(agent, "leaving");
    const res = await logOut(agent);
    expect(sessionLines(res)).toEqual([
      expect.stringMatching(/^sid=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/),
    ]);
    expect(await isLoggedIn(agent)).toBe(false);
  });

  test("a visit that changes nothing sends no session cookie", async () => {
    const agent = t.agent();
    await signUp(agent, "quiet");
    await agent.get("/secret"); // the welcome message is shown, and gone
    const res = await agent.get("/secret");
    expect(res.status).toBe(200);
    expect(setCookieHeaders(res)).toEqual([]);
  });
});

/** A session of one visit signed with "old-secret", and the app reopened with a new current secret. */
async function rotatedAfterOneVisit() {
  const before = makeTestApp({ SESSION_SECRET: "old-secret" });
  await visits(before.agent());
  const id = before.sessionFiles()[0]!;
  await before.close();
  return { t: reopen(before, { SESSION_SECRET: `${TEST_SECRET},old-secret` }), id };
}

describe("secret rotation", () => {
  test("re-signs the cookie once with the current secret, even on a visit that changes the session", async () => {
    const { t, id } = await rotatedAfterOneVisit();
    const res = await request(t.app).get("/").set("Cookie", signedCookie(id, "old-secret"));
    expect(res.text).toContain('data-testid="visits">2<');
    const lines = sessionLines(res);
    expect(lines).toHaveLength(1);
    const value = decodeURIComponent(cookiePair(res)).slice("sid=s:".length);
    expect(unsign(value, TEST_SECRET)).toBe(id);
    // The browser now holds the re-signed cookie: nothing more to re-issue.
    const next = await request(t.app).get("/").set("Cookie", signedCookie(id, TEST_SECRET));
    expect(next.text).toContain('data-testid="visits">3<');
    expect(sessionLines(next)).toEqual([]);
  });
});

describe("a cookie seen before (its signature check is remembered)", () => {
  test("is re-signed again when the browser sends the old-secret cookie again", async () => {
    const { t, id } = await rotatedAfterOneVisit();
    for (const visit of [2, 3]) {
      // The answer to the first visit was lost: the browser still holds the old cookie.
      const res = await request(t.app).get("/").set("Cookie", signedCookie(id, "old-secret"));
      expect(res.text).toContain(`data-testid="visits">${visit}<`);
      const value = decodeURIComponent(cookiePair(res)).slice("sid=s:".length);
      expect(unsign(value, TEST_SECRET)).toBe(id);
    }
  });

  test("a cookie with a wrong signature is refused every time it comes, never as the session it names", async () => {
    const t = makeTestApp();
    await visits(t.agent());
    const id = t.sessionFiles()[0]!;
    for (let time = 0; time < 2; time++) {
      const res = await request(t.app).get("/").set("Cookie", signedCookie(id, "not-our-secret"));
      expect(res.text).toContain('data-testid="visits">1<');
    }
  });

  test("a correctly signed id of the wrong shape is refused every time it comes", async () => {
    const t = makeTestApp();
    for (let time = 0; time < 2; time++) {
      const res = await request(t.app).get("/").set("Cookie", signedCookie("../not-an-id", TEST_SECRET));
      expect(res.status).toBe(200);
      expect(res.text).toContain('data-testid="visits">1<');
    }
    expect(t.sessionFiles()).toHaveLength(2); // each got a new session of its own
  });
});

describe("a save that fails", () => {
  test("answers the 503 page, with no cookie and no redirect that would claim it was saved", async () => {
    const t = makeTestApp({ SESSION_STORE: "file" });
    const browser = t.agent();
    const _csrf = csrfFrom((await browser.get("/cart")).text);
    rmSync(t.config.sessionDir, { recursive: true });
    const res = await browser
      .post("/cart/items")
      .type("form")
      .send({ product: "cookie-jar", quantity: "1", _csrf });
    expect(res.status).toBe(503);
    expect(res.text).toContain("Sessions cannot be stored right now.");
    expect(res.headers.location).toBeUndefined();
    expect(setCookieHeaders(res)).toEqual([]);
    mkdirSync(t.config.sessionDir);
    expect(t.sessionFiles()).toEqual([]);
  });
});

describe("where a request's session time went", () => {
  test("each request leaves its lock wait, load and save (ms) for the request log", async () => {
    const t = makeTestApp();
    const seen: unknown[] = [];
    // What the request log does: read them once the response has finished.
    const logged = express();
    logged.use(function readTimings(_req, res, next) {
      res.on("finish", () => seen.push(res.locals.sessionTimings));
      next();
    });
    logged.use(t.app);
    const browser = request.agent(logged);
    await browser.get("/");
    await browser.get("/");
    expect(seen).toHaveLength(2);
    for (const timings of seen) {
      expect(timings).toEqual({
        lockWaitMs: expect.any(Number),
        loadMs: expect.any(Number),
        saveMs: expect.any(Number),
      });
    }
  });
});

describe("req.session keeps express-session's API", () => {
  /** The session layer alone, in a small app whose routes use the callback methods. */
  function smallApp() {
    const { app, storage, dir } = layerAlone();
    app.get("/count", function count(req, res) {
      req.session.visits = (req.session.visits ?? 0) + 1;
      res.json({ id: req.session.id, sessionID: req.sessionID, visits: req.session.visits });
    });
    app.get("/cookie", function cookie(req, res) {
      req.session.cookie.maxAge = 60_000;
      res.json({ ...req.session.cookie, maxAge: req.session.cookie.maxAge });
    });
    app.get("/regenerate", function regenerate(req, res, next) {
      const before = req.sessionID;
      req.session.regenerate((err) => (err ? next(err) : res.json({ before, after: req.sessionID })));
    });
    app.get("/reload", function reload(req, res, next) {
      req.session.visits = 1_000; // not saved: reload brings back what the store holds
      req.session.reload((err) => (err ? next(err) : res.json({ visits: req.session.visits })));
    });
    app.get("/save-then-touch", function saveThenTouch(req, res, next) {
      req.session.visits = 50;
      req.session.save((err) =>
        err ? next(err) : res.json({ touched: req.session.touch() === req.session }),
      );
    });
    app.get("/destroy", function destroy(req, res, next) {
      req.session.destroy((err) => (err ? next(err) : res.json({ session: req.session ?? null })));
    });
    return { app, storage, dir };
  }

  test("id, sessionID, cookie, regenerate, reload, save, touch and destroy behave as there", async () => {
    const { app, storage, dir } = smallApp();
    try {
      const browser = request.agent(app);
      const first = (await browser.get("/count")).body as { id: string; sessionID: string; visits: number };
      expect(first.id).toBe(first.sessionID);
      expect((await browser.get("/count")).body).toMatchObject({ id: first.id, visits: 2 });

      const cookie = (await browser.get("/cookie")).body;
      expect(cookie).toMatchObject({
        httpOnly: true,
        secure: false,
        sameSite: "lax",
        path: "/",
        originalMaxAge: 60_000,
      });
      expect(cookie.maxAge).toBeGreaterThan(59_000);
      expect(new Date(cookie.expires).getTime()).toBeGreaterThan(Date.now());

      expect((await browser.get("/reload")).body).toEqual({ visits: 2 });
      expect((await browser.get("/save-then-touch")).body).toEqual({ touched: true });
      expect((await browser.get("/count")).body).toMatchObject({ visits: 51 });

      const { before, after } = (await browser.get("/regenerate")).body as { before: string; after: string };
      expect(after).not.toBe(before);
      expect(await storage.store.get(before)).toBeUndefined();

      await browser.get("/count");
      expect((await browser.get("/destroy")).body).toEqual({ session: null });
      expect(await storage.store.list()).toEqual([]);
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the layer in unusual places", () => {
  test("mounted twice (an app inside another), it counts each visit once and leaves nothing locked or open", async () => {
    const { app, storage, dir, layer } = layerAlone();
    try {
      app.use(layer.openSession);
      app.get("/count", (req, res) => {
        req.session.visits = (req.session.visits ?? 0) + 1;
        res.send(String(req.session.visits));
      });
      const browser = request.agent(app);
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push((await browser.get("/count")).text);
      expect(answers).toEqual(["1", "2", "3"]);
      const locks = () =>
        readdirSync(path.join(dir, "sessions", ".locks")).filter((name) => name.endsWith(".lock"));
      await until(() => (openFilesIn(dir) === 0 && locks().length === 0 ? true : undefined), {
        deadlineMs: 2_000,
        what: "no file left open or locked",
      });
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a record holding a "__proto__" key still gives a session with its id and methods', async () => {
    const { app, storage, dir } = layerAlone();
    try {
      app.get("/regenerate", (req, res, next) => {
        const before = req.session.id;
        req.session.regenerate((err) => (err ? next(err) : res.json({ before, after: req.sessionID })));
      });
      const id = generateSessionId();
      const data = JSON.parse('{"visits": 3, "__proto__": {"id": "not-the-id", "regenerate": null}}');
      await storage.store.set(id, data, 60_000);
      const res = await request(app).get("/regenerate").set("Cookie", signedCookie(id, TEST_SECRET));
      expect(res.status).toBe(200);
      expect(res.body.before).toBe(id);
      expect(res.body.after).not.toBe(id);
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the session cookie, however the route writes its headers", () => {
  test.each([
    ["by res.send", (res: express.Response) => void res.send("ok")],
    ["by a first res.write (streamed)", (res: express.Response) => void (res.write("o"), res.end("k"))],
    ["by writeHead with the status alone", (res: express.Response) => void res.writeHead(200).end("ok")],
    [
      "by writeHead with headers of its own, a cookie among them",
      (res: express.Response) =>
        void res.writeHead(200, { "x-route": "1", "set-cookie": "route=1; Path=/" }).end("ok"),
    ],
    [
      "by writeHead with a reason and headers",
      (res: express.Response) => void res.writeHead(200, "Fine", [["x-route", "1"]]).end("ok"),
    ],
  ])("a new session's cookie goes out with the headers written %s", async (_case, answer) => {
    const { app } = layerAlone();
    app.get("/", (req, res) => {
      req.session.visits = 1;
      answer(res);
    });
    const res = await request(app).get("/");
    expect(res.status).toBe(200);
    expect(res.text).toBe("ok");
    expect(sessionLines(res)).toHaveLength(1);
    if (_case.includes("headers of its own")) expect(setCookieHeaders(res)).toContain("route=1; Path=/");
    if (_case.includes("headers")) expect(res.headers["x-route"]).toBe("1");
  });
});

describe("the session's file, held open from its load to its save", () => {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test("is closed after every kind of request: saved, unchanged, ended, replaced, reloaded, failed, left", async () => {
    const { app, dir } = layerAlone({ SESSION_LOCK_TIMEOUT: "1s" });
    app.get("/count", (req, res) => {
      req.session.visits = (req.session.visits ?? 0) + 1;
      res.end(String(req.session.visits));
    });
    app.get("/look", (req, res) => res.end(String(req.session.visits)));
    app.get("/peek", (_req, res) => res.end(String(openFilesIn(dir)))); // during the request
    app.get("/regenerate", (req, res, next) =>
      req.session.regenerate((err) => (err ? next(err) : res.end("new"))),
    );
    app.get("/reload", (req, res, next) =>
      req.session.reload((err) => {
        if (err) return next(err);
        req.session.visits = 100;
        req.session.save((saveErr) => (saveErr ? next(saveErr) : res.end("saved")));
      }),
    );
    app.get("/fail", () => {
      throw new Error("the route failed");
    });
    app.get("/slow", (_req, res) => void pause(300).then(() => res.end("late")));
    app.get("/never", () => undefined); // never answers: its session goes after the lock timeout
    app.get("/end", (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.end("ended"))));
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).end("failed");
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cookie = cookiePair(await request(app).get("/count"));
      expect((await request(app).get("/peek").set("Cookie", cookie)).text).toBe("1"); // held while it runs
      for (const page of ["/count", "/look", "/reload", "/fail", "/look"]) {
        await request(app).get(page).set("Cookie", cookie);
      }
      for (const page of ["/slow", "/never"]) {
        const left = http.get(`${base}${page}`, { headers: { cookie } });
        left.on("error", () => undefined);
        setTimeout(() => left.destroy(), 50);
        await pause(page === "/never" ? 1_200 : 400);
      }
      expect((await request(app).get("/look").set("Cookie", cookie)).text).toBe("100");
      await request(app).get("/regenerate").set("Cookie", cookie);
      const other = cookiePair(await request(app).get("/count"));
      await request(app).get("/end").set("Cookie", other);
      // The last response's locks and file go on its 'finish'.
      await until(() => (openFilesIn(dir) === 0 ? true : undefined), {
        deadlineMs: 2_000,
        what: "no file left open",
      });
      expect(openFilesIn(dir)).toBe(0);
    } finally {
      server.close();
    }
  });
});

describe("a client that leaves mid-request", () => {
  /** One GET over a raw socket, given up (destroyed) after `abortAfterMs` if set. */
  function get(url: string, cookie: string, abortAfterMs?: number): Promise<number | "left"> {
    return new Promise((resolve) => {
      const req = http.get(url, { headers: { cookie } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      req.on("error", () => resolve("left"));
      if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
    });
  }
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  test("while it waited for its session's lock does not leave the session locked", async () => {
    const t = makeTestApp({ SESSION_LOCK_TIMEOUT: "2s" });
    const server = t.app.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const first = await request(t.app).get("/");
      const cookie = cookiePair(first);
      const id = decodeURIComponent(cookie.slice("sid=".length)).slice(2).split(".")[0]!;
      const busy = await t.storage.locks.acquire(id); // a slow request of this session
      expect(await get(url, cookie, 200)).toBe("left"); // another tab, given up while it waited
      await busy();
      await pause(100);
      expect(await get(url, cookie)).toBe(200); // not a 503 "busy" after the lock's timeout
    } finally {
      server.close();
    }
  });

  test("keeps the session locked until its own save: the next request sees what it stored", async () => {
    const { app, storage, dir } = layerAlone();
    app.get("/start", function start(req, res) {
      req.session.cart = {};
      res.end("ok");
    });
    app.get("/add/:item", async function add(req, res) {
      const cart = { ...req.session.cart };
      if (req.params.item === "slow") await pause(300); // a slow route: a first submit
      cart[req.params.item] = 1;
      req.session.cart = cart;
      res.end("ok");
    });
    app.get("/show", (req, res) => res.json(Object.keys(req.session.cart ?? {}).sort()));
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cookie = cookiePair(await request(app).get("/start"));
      const first = get(`${base}/add/slow`, cookie, 50); // cancelled by the browser
      await pause(10);
      const second = get(`${base}/add/quick`, cookie); // the second submit
      expect(await first).toBe("left");
      expect(await second).toBe(200);
      const shown = await request(app).get("/show").set("Cookie", cookie);
      expect(shown.body).toEqual(["quick", "slow"]); // neither write lost
    } finally {
      server.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
