// The app factory: builds the whole site from a config object. It never reads
// process.env and never listens (that is server.ts), so every test builds its own app
// with its own sessions folder and database.
import express, { type Express } from "express";
import { pino, type Logger } from "pino";
import { accountRouter } from "./account/routes";
import { knownDeviceCookie } from "./auth/knownDevice";
import { createLoginSessions } from "./auth/loginSessions";
import { createLogins } from "./auth/logins";
import { argon2Passwords, type Passwords } from "./auth/passwords";
import { authRouters } from "./auth/routes";
import { ACCOUNT_RULES, createThrottle, memoryLimiters, type AccountRules } from "./auth/throttle";
import { cartRouter } from "./cart/routes";
import { createUsers, type Users } from "./auth/users";
import type { Config } from "./config";
import { connectDatabase, type Database } from "./db";
import { healthCheck } from "./health/routes";
import { homeRouter } from "./home/routes";
import { inspectorRouter } from "./inspector/routes";
import { createCsrf, type Csrf } from "./http/csrf";
import { errorHandler, notFound } from "./http/errors";
import { flashMiddleware } from "./http/flash";
import { noStore, securityHeaders } from "./http/headers";
import { exposeUser } from "./http/locals";
import { requestLogging } from "./http/requestLog";
import { staticFiles } from "./http/staticFiles";
import { createViews } from "./http/views";
import { createAdmission } from "./sessions/admission";
import { sessionLayer, type SessionLayer } from "./sessions/sessionLayer";
import { createSessionStorage, type SessionStorage } from "./sessions/storage";

/** Body size for every form: far above any honest form, far below a problem. */
const formBody = express.urlencoded({ extended: false, limit: "16kb", parameterLimit: 50 });

export interface AppDeps {
  logger?: Logger;
  /** The clock of every session lifetime (tests move it instead of sleeping). */
  now?: () => number;
  /** The per-account log-in throttle's rules (tests shorten the delays). */
  accountRules?: AccountRules;
  /** Password hashing (tests count the hashes; the real argon2 still runs). */
  passwords?: Passwords;
  /**
   * Only for the bench's "same app, session layer off" (bench/servers/layerOff.ts): these
   * in place of the session layer (cookie, lock, store, log-in check) and of the CSRF token.
   */
  layersOff?: { sessions: SessionLayer; csrf: Csrf };
}

export interface Handstamp {
  app: Express;
  config: Config;
  db: Database;
  users: Users;
  storage: SessionStorage;
  /** Stops background work and closes the database (its connections). */
  close(): Promise<void>;
}

export function createApp(config: Config, deps: AppDeps = {}): Handstamp {
  const logger = deps.logger ?? pino({ level: config.logLevel });
  // SQLite opens and migrates here; PostgreSQL connects on first use and migrates in
  // db.ready(), which server.ts awaits before it listens (and every query awaits too).
  const db = connectDatabase(config, {
    onError: (err, msg) => logger.error({ err }, msg),
    onMigrated: (from, to) => logger.info({ from, to }, "database migrated"),
  });
  const now = deps.now ?? Date.now;
  const users = createUsers(db, now);
  const storage = createSessionStorage(config, { logger, now });
  const loginSessions = createLoginSessions({
    config,
    logins: createLogins(db),
    storage,
    now,
    onError: (err, msg) => logger.error({ err }, msg),
  });
  const limiters = storage.limiters ?? memoryLimiters;
  const throttle = createThrottle(config.authRateLimit, limiters, deps.accountRules ?? ACCOUNT_RULES);
  const admission = createAdmission(config, { logger, limiters });
  const passwords = deps.passwords ?? argon2Passwords;
  const knownDevice = knownDeviceCookie(config);
  const csrf = deps.layersOff?.csrf ?? createCsrf(config);
  const production = config.env === "production";
  const sessions =
    deps.layersOff?.sessions ??
    sessionLayer(config, {
      storage,
      admission,
      loginSessions,
      now,
      onError: (err, msg) => logger.error({ err }, msg),
    });

  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  // Every page is Cache-Control: no-store, so a browser never revalidates one: an ETag
  // (a hash of each page's body) would be work for nothing. Static files keep theirs.
  app.set("etag", false);
  createViews(production).express(app);
  app.set("view engine", "njk");
  // Defaults for pages rendered before the middleware below has run (an early error).
  app.locals.takeFlashes = () => [];
  app.locals.csrfToken = () => "";

  app.use(securityHeaders(production));
  // Static files come before logging and sessions: no session work for a stylesheet.
  app.use(staticFiles(production));
  app.use(requestLogging(logger));
  app.get("/healthz", healthCheck({ storage, db }));
  app.use(noStore);
  // The session layer, with the form body read between its two steps (sessionLayer.ts says why).
  app.use(sessions.openSession, formBody, sessions.checkLogin);
  app.use(csrf.expose);
  app.use(flashMiddleware(config));
  app.use(exposeUser);
  app.use(csrf.protect);

  // Each feature on its own path: a request enters only the router of its path.
  app.use("/cart", cartRouter());
  const auth = authRouters({
    users,
    loginSessions,
    throttle,
    knownDevice,
    passwords,
  });
  app.use("/signup", auth.signup);
  app.use("/login", auth.login);
  app.use("/logout", auth.logout);
  app.use("/account", accountRouter({ users, loginSessions, throttle, knownDevice, passwords }));
  app.use("/session", inspectorRouter({ config, storage, now }));
  // The home page and /secret, last: only they and the pages that match nothing get here.
  app.use(homeRouter());
  app.use(notFound);
  app.use(errorHandler({ logger, isCsrfError: csrf.isCsrfError, showStack: config.env === "development" }));

  return {
    app,
    config,
    db,
    users,
    storage,
    async close() {
      await storage.close();
      await db.close();
    },
  };
}
