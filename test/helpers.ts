// Test helpers: a fresh app per test file with its own temporary sessions folder and
// database (a SQLite file, or a PostgreSQL database of its own), and small verbs (signUp, logIn, csrfFrom …) so tests read like
// what a visitor does.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino, type Logger } from "pino";
import request from "supertest";
import type TestAgent from "supertest/lib/agent";
import { createApp, type AppDeps, type Handstamp } from "../src/app";
import { parseConfig, type Config } from "../src/config";
import { signSessionId } from "../src/sessions/sessionLayer";
import { usePostgres } from "./postgresServer";
import { MISSING_REDIS, useRedis } from "./redisServer";

export type Agent = TestAgent;

export const TEST_SECRET = "test-secret-that-is-long-enough-for-production-0123";

/**
 * Every app `makeTestApp` made, so that it is closed and its folder removed however its test
 * ends: those made in a test (or a beforeEach) once that test is over, the others (made in a
 * beforeAll) once the file is over. These hooks come before the Redis and PostgreSQL ones
 * below, so that the apps are closed while their servers still run.
 */
const madeApps: { app: TestApp; inTest: boolean }[] = [];
let inTest = false;
beforeEach(() => {
  inTest = true;
});
afterEach(async () => {
  inTest = false;
  await closeAndRemove((made) => made.inTest);
});
afterAll(() => closeAndRemove(() => true));

/** Closes the apps that match (all of them, even if one fails to close), then removes their folders. */
async function closeAndRemove(which: (made: { inTest: boolean }) => boolean): Promise<void> {
  const done = madeApps.filter(which);
  madeApps.splice(0, madeApps.length, ...madeApps.filter((made) => !which(made)));
  const closed = await Promise.allSettled(done.map(({ app }) => app.close()));
  for (const { app } of done) rmSync(app.dir, { recursive: true, force: true });
  const failed = closed.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * "redis" in the Jest project of that name (jest.config.js): the app's tests run a second
 * time with SESSION_STORE=redis, against a redis-server this file starts for them.
 */
export const TEST_STORE: "file" | "redis" = process.env.HANDSTAMP_TEST_STORE === "redis" ? "redis" : "file";
const sharedRedis = TEST_STORE === "redis" ? useRedis() : undefined;

/**
 * "postgres" in the Jest project of that name: the account tests run a second time with
 * DATABASE_URL, each app on a new database of a cluster this file starts for them.
 */
export const TEST_DATABASE: "sqlite" | "postgres" =
  process.env.HANDSTAMP_TEST_DATABASE === "postgres" ? "postgres" : "sqlite";
const sharedPostgres = TEST_DATABASE === "postgres" ? usePostgres() : undefined;

/** Settings that point an app at a new database of this file's cluster (none on SQLite). */
function databaseEnv(env: Record<string, string>): Record<string, string> {
  if (!sharedPostgres || env.DATABASE_URL) return {};
  return { DATABASE_URL: sharedPostgres.newDatabaseUrl() };
}

/** Settings that point an app at this file's redis-server, under a prefix of its own. */
function storeEnv(): Record<string, string> {
  if (!sharedRedis) return {};
  if (!sharedRedis.url) throw new Error(MISSING_REDIS); // it could not start: say why, at once
  return {
    SESSION_STORE: "redis",
    REDIS_URL: sharedRedis.url,
    REDIS_PREFIX: `t${randomBytes(6).toString("hex")}:`,
  };
}

export function tempDir(prefix = "handstamp-test-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** How many files of `dir` this process has open now. */
export function openFilesIn(dir: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`);
    } catch {
      return false; // closed meanwhile (the fd readdir itself used)
    }
  }).length;
}

/** A config as `server.ts` would build it, in a temporary folder. */
export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return parseConfig(
    {
      NODE_ENV: "test",
      SESSION_SECRET: TEST_SECRET,
      SESSION_DIR: path.join(dir, "sessions"),
      DATABASE_PATH: path.join(dir, "data", "handstamp.db"),
      // Every test visitor comes from one address: the cap on new sessions has its own tests.
      SESSION_CREATE_LIMIT: "off",
      ...storeEnv(),
      ...databaseEnv(env),
      ...env,
    },
    { cwd: dir },
  );
}

export interface TestApp extends Handstamp {
  dir: string;
  agent(): Agent;
  /** Session files currently on disk (ids). */
  sessionFiles(): string[];
  /** The ids of the sessions in the store, whatever it is. */
  storedIds(): Promise<string[]>;
}

/**
 * Builds an app for the tests of one file: call at the top of a describe block; the
 * app is created before the tests and closed (with its folder removed) after them.
 */
export function useTestApp(env: Record<string, string> = {}, deps: AppDeps = {}): TestApp {
  const holder = {} as TestApp;
  beforeAll(() => {
    Object.assign(holder, makeTestApp(env, deps));
  });
  afterAll(async () => {
    await holder.close();
    rmSync(holder.dir, { recursive: true, force: true });
  });
  return holder;
}

/**
 * A new app in a temporary folder. It is closed and the folder removed after the test that
 * made it (or after the file, if made in a beforeAll), even when the test fails; a test may
 * close it sooner (a restart): closing again does nothing.
 */
export function makeTestApp(env: Record<string, string> = {}, deps: AppDeps = {}): TestApp {
  const dir = tempDir();
  const config = testConfig(dir, env);
  const handstamp = createApp(config, { logger: pino({ level: "silent" }), ...deps });
  let closing: Promise<void> | undefined;
  const app: TestApp = {
    ...handstamp,
    dir,
    close: () => (closing ??= handstamp.close()),
    agent: () => request.agent(handstamp.app),
    sessionFiles: () =>
      readdirSync(config.sessionDir)
        .filter((name) => name.endsWith(".json"))
        .map((name) => name.slice(0, -".json".length)),
    storedIds: async () => (await handstamp.storage.store.list()).map((s) => s.id),
  };
  madeApps.push({ app, inTest });
  return app;
}

/** A restart: the same sessions and database as `t` (closed first), with other settings. */
export function reopen(t: TestApp, env: Record<string, string>): TestApp {
  return makeTestApp({
    SESSION_DIR: t.config.sessionDir,
    DATABASE_PATH: t.config.databasePath,
    ...(t.config.databaseUrl ? { DATABASE_URL: t.config.databaseUrl } : {}),
    REDIS_PREFIX: t.config.redisPrefix,
    ...env,
  });
}

/** The whole id of this browser's session, found from what the inspector shows of it. */
export async function sessionIdOf(t: TestApp, agent: Agent): Promise<string | undefined> {
  const short = textOf((await agent.get("/session")).text, "cookie-id")?.replace("…", "");
  return short ? (await t.storedIds()).find((id) => id.startsWith(short)) : undefined;
}

/** The CSRF token of the first form on a page. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error("no CSRF token on this page");
  return match[1]!;
}

export async function csrfOf(agent: Agent, page = "/login"): Promise<string> {
  const res = await agent.get(page);
  return csrfFrom(res.text);
}

export const PASSWORD = "correct horse battery staple";

export async function signUp(agent: Agent, username: string, password = PASSWORD) {
  const _csrf = await csrfOf(agent, "/signup");
  return agent.post("/signup").type("form").send({ username, password, _csrf });
}

export async function logIn(
  agent: Agent,
  username: string,
  password = PASSWORD,
  extra: Record<string, string> = {},
) {
  const _csrf = await csrfOf(agent, "/login");
  return agent
    .post("/login")
    .type("form")
    .send({ username, password, _csrf, ...extra });
}

export async function logOut(agent: Agent) {
  const _csrf = await csrfOf(agent, "/logout");
  return agent.post("/logout").type("form").send({ _csrf });
}

/** The number the home page shows (and counts one more visit). */
export async function visits(agent: Agent): Promise<number> {
  const res = await agent.get("/");
  return Number(textOf(res.text, "visits"));
}

/** The text of the element with this data-testid, or undefined. */
export function textOf(html: string, testId: string): string | undefined {
  const match = new RegExp(`data-testid="${testId}"[^>]*>([^<]*)<`).exec(html);
  return match?.[1];
}

/** The messages of a form's error box. */
export function formErrorsOf(html: string): string[] {
  const box = /data-testid="form-error">([\s\S]*?)<\/div>/.exec(html)?.[1] ?? "";
  return [...box.matchAll(/<p>([^<]*)<\/p>/g)].map((m) => m[1]!);
}

export function flashesOf(html: string): { category: string; text: string }[] {
  const found = html.matchAll(/data-testid="flash" data-category="([a-z]+)">([^<]*)</g);
  return [...found].map((m) => ({ category: m[1]!, text: m[2]! }));
}

/** A response as supertest gives it, or as fetch does. */
type AnyResponse = { headers: Record<string, unknown> } | Response;

/** The Set-Cookie lines of a response. */
export function setCookieHeaders(res: AnyResponse): string[] {
  if (res instanceof Response) return res.headers.getSetCookie();
  return (res.headers["set-cookie"] as string[] | undefined) ?? [];
}

/** Whether a response sets this cookie. */
export function setsCookie(res: AnyResponse, name = "sid"): boolean {
  return setCookieHeaders(res).some((c) => c.startsWith(`${name}=`));
}

/** The "name=value" of one cookie a response sets, for a Cookie header. */
export function cookiePair(res: AnyResponse, name = "sid"): string {
  const line = setCookieHeaders(res).find((c) => c.startsWith(`${name}=`));
  if (!line) throw new Error(`the response sets no ${name} cookie`);
  return line.split(";")[0]!;
}

/** The session id in a response's Set-Cookie, unsigned; undefined if none is set. */
export function sessionIdFrom(res: AnyResponse, name = "sid"): string | undefined {
  if (!setsCookie(res, name)) return undefined;
  const value = decodeURIComponent(cookiePair(res, name).slice(name.length + 1));
  return value.startsWith("s:") ? value.slice(2, value.lastIndexOf(".")) : "";
}

/** A session cookie for a Cookie header, signed as the session layer signs it. */
export function signedCookie(id: string, secret: string, name = "sid"): string {
  return `${name}=${signSessionId(id, secret)}`;
}

/** Whether this browser is logged in: the page for logged-in visitors answers 200. */
export async function isLoggedIn(agent: Agent): Promise<boolean> {
  return (await agent.get("/secret")).status === 200;
}

/** A logger that keeps what it writes, for tests about what the operator is told. */
export function capturedLog(): { logger: Logger; lines: () => { level: number; msg: string }[] } {
  const written: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void written.push(line) });
  return { logger, lines: () => written.map((line) => JSON.parse(line) as { level: number; msg: string }) };
}

/** What a page view without cookies answered: its status, body and Set-Cookie lines. */
export interface View {
  status: number;
  text: string;
  headers: { "set-cookie": string[] };
}

/**
 * Many page views, 20 at a time (as many browsers would), each without any cookie, through
 * one listening server (thousands of views in seconds).
 */
export async function cookielessViews(
  t: TestApp,
  path: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<View[]> {
  const server = t.app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const view = async (): Promise<View> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, redirect: "manual" });
    return {
      status: res.status,
      text: await res.text(),
      headers: { "set-cookie": res.headers.getSetCookie() },
    };
  };
  const views: View[] = [];
  try {
    for (let start = 0; start < count; start += 20) {
      views.push(...(await Promise.all(Array.from({ length: Math.min(20, count - start) }, view))));
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
  return views;
}
