// The last stops: a 404 page, and one error handler that answers every error with a
// readable page and the right status. The client never sees a stack trace outside
// development, and nothing the client sent can produce a 500.
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { DatabaseUnavailable } from "../db/errors";
import { SessionStoreUnavailable } from "../sessions/errors";
import { SessionBusy } from "../sessions/lock";

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).render("errors/404.njk");
};

interface HttpishError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  type?: string;
}

const CLIENT_MESSAGES: Record<number, string> = {
  400: "The request could not be understood.",
  413: "What you sent is too large.",
  415: "That kind of content is not accepted here.",
};

export function errorHandler(deps: {
  logger: Logger;
  isCsrfError: (err: unknown) => boolean;
  showStack: boolean;
}): ErrorRequestHandler {
  return function handleError(err: unknown, req, res, next) {
    if (res.headersSent) return next(err);
    if (deps.isCsrfError(err)) {
      return res.status(403).render("errors/403.njk");
    }
    // Busy session or unavailable store: the client did nothing wrong, try again shortly.
    if (
      err instanceof SessionStoreUnavailable ||
      err instanceof DatabaseUnavailable ||
      err instanceof SessionBusy
    ) {
      if (err instanceof SessionStoreUnavailable) {
        deps.logger.error({ err, url: req.originalUrl }, "session store unavailable");
      } else if (err instanceof DatabaseUnavailable) {
        deps.logger.error({ err, url: req.originalUrl }, "database unavailable");
      }
      res.set("Retry-After", String(err.retryAfterSeconds));
      return res.status(503).render("errors/503.njk", {
        busy: err instanceof SessionBusy,
        database: err instanceof DatabaseUnavailable,
      });
    }
    const status = (err as HttpishError)?.status ?? (err as HttpishError)?.statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return res.status(status).render("errors/4xx.njk", {
        status,
        message: CLIENT_MESSAGES[status] ?? "The request was refused.",
      });
    }
    deps.logger.error({ err, url: req.originalUrl }, "unhandled error");
    res.status(500).render("errors/500.njk", {
      stack: deps.showStack ? (err as Error)?.stack : undefined,
    });
  };
}
