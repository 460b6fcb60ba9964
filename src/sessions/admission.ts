// Which sessions may be stored. A session loaded from the store may be saved again; a new
// one only if its cookie can reach the browser and its client address has not made too
// many already (SESSION_CREATE_LIMIT): otherwise anyone could fill the disk or Redis with
// records nobody will ever come back to. A session that holds a log-in is always stored
// (log-ins have their own throttle, and refusing one would lock people out).
//
// In production the session cookie is Secure: a request that did not come over HTTPS (as
// Express sees it, with TRUST_PROXY) cannot get it back, so nothing is stored for it, and
// its forms are refused with a page that says why, not a misleading CSRF error.
import type { Request, Response } from "express";
import type { Logger } from "pino";
import { clientAddress } from "../auth/routes";
import { isLimiterRefusal, memoryLimiters, type LimiterFactory } from "../auth/throttle";
import type { Config } from "../config";
import { SAFE_METHODS } from "../http/csrf";
import { SessionStoreUnavailable } from "./errors";

export const PLAIN_HTTP_WARNING =
  "a request came over plain HTTP in production: no session is stored for it and its forms are refused. " +
  "If HTTPS ends at a proxy, set TRUST_PROXY to that proxy and have it send X-Forwarded-Proto: https";

export type Admission = ReturnType<typeof createAdmission>;

export function createAdmission(
  config: Config,
  deps: { logger: Pick<Logger, "warn">; limiters?: LimiterFactory },
) {
  const production = config.env === "production";
  const limit = config.sessionCreateLimit;
  const creations = limit
    ? (deps.limiters ?? memoryLimiters)({
        keyPrefix: "session-create",
        points: limit.points,
        duration: Math.max(1, Math.ceil(limit.windowMs / 1000)),
      })
    : undefined;
  /** One count per request, however many times its session is saved. */
  const counted = new WeakMap<Request, Promise<boolean>>();
  let warned = false;

  /**
   * Asked twice a request (the form check, the layer) and once more by each save;
   * `req.secure` runs the TRUST_PROXY check each time, so the answer is kept.
   */
  const plainHttp = new WeakMap<Request, boolean>();
  const isPlainHttp = (req: Request): boolean => {
    if (!production) return false;
    let plain = plainHttp.get(req);
    if (plain === undefined) plainHttp.set(req, (plain = !req.secure));
    return plain;
  };

  async function countCreation(req: Request): Promise<boolean> {
    try {
      await creations!.consume(clientAddress(req));
      return true;
    } catch (err) {
      if (isLimiterRefusal(err)) return false;
      throw new SessionStoreUnavailable("session creation count", err);
    }
  }

  return {
    isPlainHttp,

    /** Resolves to whether this request's session may be written now. */
    mayStore(req: Request, session: { stored: boolean; loggedIn: boolean }): Promise<boolean> {
      if (isPlainHttp(req)) return Promise.resolve(false);
      if (!creations || session.stored || session.loggedIn) return Promise.resolve(true);
      let allowed = counted.get(req);
      if (!allowed) counted.set(req, (allowed = countCreation(req)));
      return allowed;
    },

    /**
     * First thing of the session layer: warns once about plain HTTP in production, and
     * answers a form sent over it with a page that says why. True when it has answered.
     */
    refusePlainHttpForm(req: Request, res: Response): boolean {
      if (!isPlainHttp(req)) return false;
      if (!warned) {
        warned = true;
        deps.logger.warn({ url: req.originalUrl }, PLAIN_HTTP_WARNING);
      }
      if (SAFE_METHODS.has(req.method)) return false;
      res.status(400).render("errors/not-https.njk");
      return true;
    },
  };
}
