// One log line per request, written when the response is done (or the client gave up):
// method, URL, status, milliseconds, and where the session layer spent its time when it
// says so (res.locals.sessionTimings). It writes through the app's logger: no child logger
// per request, no request id, and never a header, so no Cookie or Set-Cookie in the log.
import { performance } from "node:perf_hooks";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { SessionTimings } from "../sessions/sessionLayer";

/** Milliseconds with one decimal: enough to read, short to write. */
const round = (ms: number) => Math.round(ms * 10) / 10;
/** The session layer's parts, most of them well under a millisecond: two decimals (10 µs). */
const round2 = (ms: number) => Math.round(ms * 100) / 100;

/** The request log. Also used by the bench. */
export function requestLogging(logger: Logger): RequestHandler {
  return function logRequest(req: Request, res: Response, next: NextFunction) {
    const startedAt = performance.now();
    // 'close' comes once per response, after 'finish' when it was sent in full, alone when
    // the connection ended first: one listener, one line.
    res.once("close", function writeRequestLine() {
      const line = {
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        ms: round(performance.now() - startedAt),
      } as { method: string; url: string; status: number; ms: number; session?: SessionTimings };
      const timings = res.locals.sessionTimings as SessionTimings | undefined;
      // Rounded: a float's seventeen digits cost more to write than the line's other fields.
      if (timings) {
        line.session = {
          lockWaitMs: round2(timings.lockWaitMs),
          loadMs: round2(timings.loadMs),
          saveMs: round2(timings.saveMs),
        };
      }
      if (!res.writableFinished) logger.warn({ ...line, aborted: true }, "request aborted");
      else if (res.statusCode >= 500) logger.error(line, "request failed");
      else logger.info(line, "request");
    });
    next();
  };
}
