// The errors a handler throws instead of rendering an error page itself, and the last
// stops: a 404, and one error handler that answers every error with a readable page and
// the right status. The client never sees a stack trace outside development, and nothing
// the client sent can produce a 500.
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";

/** There is nothing at this address (or nothing this visitor may know of). */
export class NotFound extends Error {
  readonly status = 404;
  constructor() {
    super("not found");
    this.name = "NotFound";
  }
}

/** The request cannot be done as sent; `visitorText` says why, to the visitor. */
export class BadRequest extends Error {
  readonly status = 400;
  constructor(readonly visitorText: string) {
    super(visitorText);
    this.name = "BadRequest";
  }
}

/**
 * Something the site needs is out of reach or busy (the session store, a session's lock,
 * the limiters, the database): the client did nothing wrong, so it gets a 503 with
 * Retry-After and a page saying what cannot be done, never a 500.
 */
export class ServiceUnavailable extends Error {
  readonly status = 503;
  /** What is out of reach, for the log: "session store", "limiter", "database". */
  readonly service: string;
  /** Seconds the client should wait before trying again. */
  readonly retryAfterSeconds: number;
  /** One sentence for the visitor: what cannot be done right now. */
  readonly visitorText: string;
  constructor(
    message: string,
    options: { service: string; retryAfterSeconds: number; visitorText: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.service = options.service;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.visitorText = options.visitorText;
  }
}

export const notFound: RequestHandler = function notFound() {
  throw new NotFound();
};

/** What body-parser and friends throw: a status and a message not meant for visitors. */
interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
}

const CLIENT_MESSAGES: Record<number, string> = {
  400: "The request could not be understood.",
  413: "What you sent is too large.",
  415: "That kind of content is not accepted here.",
};

function clientStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { status, statusCode } = err as HttpishError;
  const found = status ?? statusCode;
  return typeof found === "number" && found >= 400 && found < 500 ? found : undefined;
}

export function errorHandler(deps: {
  logger: Logger;
  isCsrfError: (err: unknown) => boolean;
  showStack: boolean;
}): ErrorRequestHandler {
  return function handleError(err: unknown, req, res, next) {
    if (res.headersSent) return next(err);
    if (err instanceof NotFound) return res.status(404).render("errors/404.njk");
    if (err instanceof BadRequest) {
      return res.status(400).render("errors/4xx.njk", { status: 400, message: err.visitorText });
    }
    if (deps.isCsrfError(err)) return res.status(403).render("errors/403.njk");
    if (err instanceof ServiceUnavailable) {
      // An outage has a failure underneath (its cause), which the operator must see; a busy
      // session has none and is no news.
      if (err.cause !== undefined) {
        deps.logger.error({ err, url: req.originalUrl }, `${err.service} unavailable`);
      }
      res.set("Retry-After", String(err.retryAfterSeconds));
      return res.status(503).render("errors/503.njk", { explanation: err.visitorText });
    }
    const status = clientStatus(err);
    if (status !== undefined) {
      return res.status(status).render("errors/4xx.njk", {
        status,
        message: CLIENT_MESSAGES[status] ?? "The request was refused.",
      });
    }
    deps.logger.error({ err, url: req.originalUrl }, "unhandled error");
    res.status(500).render("errors/500.njk", {
      stack: deps.showStack && err instanceof Error ? err.stack : undefined,
    });
  };
}
