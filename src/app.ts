// The app factory: builds the whole site from a config object. It never reads
// process.env and never listens (that is server.ts), so every test builds its own app
// with its own sessions folder and database.
import path from "node:path";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";
import nunjucks from "nunjucks";
import { pino, type Logger } from "pino";
import { pinoHttp } from "pino-http";
import { accountRouter } from "./account/routes";
import { knownDeviceCookie } from "./auth/knownDevice";
import { createLoginSessions } from "./auth/loginSessions";
import { createLogins } from "./auth/logins";
import { argon2Passwords, type Passwords } from "./auth/passwords";
import { authRouter } from "./auth/routes";
import { ACCOUNT_RULES, createThrottle, memoryLimiters, type AccountRules } from "./auth/throttle";
import { cartRouter } from "./cart/routes";
import { itemCount } from "./cart/cart";
import { createUsers, type Users } from "./auth/users";
import type { Config } from "./config";
import { openDatabase, type Database } from "./db";
import { healthCheck } from "./health/routes";
import { homeRouter } from "./home/routes";
import { inspectorRouter } from "./inspector/routes";
import { PUBLIC_DIR, VIEWS_DIR } from "./paths";
import { createCsrf } from "./http/csrf";
import { errorHandler, notFound } from "./http/errors";
import { flashMiddleware } from "./http/flash";
import { currentUser } from "./auth/requireLogin";
import { createAdmission } from "./sessions/admission";
import { sessionLayer } from "./sessions/sessionLayer";
import { createSessionStorage, type SessionStorage } from "./sessions/storage";

/** Body size for every form: far above any honest form, far below a problem. */
const FORM_LIMIT = "16kb";

export interface AppDeps {
  logger?: Logger;
  /** The clock of every session lifetime (tests move it instead of sleeping). */
  now?: () => number;
  /** The per-account log-in throttle's rules (tests shorten the delays). */
  accountRules?: AccountRules;
  /** Password hashing (tests count the hashes; the real argon2 still runs). */
  passwords?: Passwords;
}

export interface Handstamp {
  app: Express;
  config: Config;
  db: Database;
  users: Users;
  storage: SessionStorage;
  /** Stops background work and closes the database. */
  close(): Promise<void>;
}

export function createApp(config: Config, deps: AppDeps = {}): Handstamp {
  const logger = deps.logger ?? pino({ level: config.logLevel });
  const db = openDatabase(config.databasePath);
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
  const csrf = createCsrf(config);
  const production = config.env === "production";
  const sessions = sessionLayer(config, {
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
  app.use(sessions.openSession);
  app.use(express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 50 }));
  app.use(sessions.checkLogin); // after the body: see src/sessions/sessionLayer.ts
  app.use(csrf.expose);
  app.use(flashMiddleware(config));
  app.use(exposeUser);
  app.use(csrf.protect);

  app.use(homeRouter());
  app.use(cartRouter());
  app.use(
    authRouter({
      users,
      loginSessions,
      throttle,
      knownDevice,
      passwords,
    }),
  );
  app.use(accountRouter({ users, loginSessions, throttle, knownDevice, passwords }));
  app.use(inspectorRouter({ config, storage, now }));
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
      db.close();
    },
  };
}

function createViews(production: boolean): nunjucks.Environment {
  const loader = new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: !production });
  return new nunjucks.Environment(loader, { autoescape: true });
}

/** The response headers of every page and file (helmet). Also used by the bench. */
export function securityHeaders(production: boolean) {
  return helmet({
    contentSecurityPolicy: { directives: cspDirectives(production) },
    strictTransportSecurity: production, // over plain http (development) it only confuses
  });
}

/** One log line per request (pino-http). Also used by the bench. */
export function requestLogging(logger: Logger) {
  return pinoHttp({
    logger,
    // Only what is needed to follow a request: never the Cookie or Set-Cookie headers.
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}

function cspDirectives(production: boolean) {
  return {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    upgradeInsecureRequests: production ? [] : null,
  };
}

/**
 * Files from public/. Only paths with an extension are looked up there, so a page request
 * costs no stat() of the public folder on its way to the session layer.
 */
function staticFiles(production: boolean) {
  const serve = express.static(PUBLIC_DIR, { index: false, maxAge: production ? "1h" : 0 });
  return function serveStatic(req: Request, res: Response, next: NextFunction) {
    if (path.extname(req.path) === "") return next();
    serve(req, res, next);
  };
}

/** Pages below depend on the session: never cache them, never share them across cookies. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set("Cache-Control", "no-store");
  res.vary("Cookie");
  next();
}

function exposeUser(req: Request, res: Response, next: NextFunction): void {
  res.locals.currentUser = currentUser(req)?.name;
  res.locals.cartCount = itemCount(req.session.cart);
  res.locals.path = req.path;
  next();
}
