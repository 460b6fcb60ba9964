// The database did not answer (stopped, paused, unreachable, out of connections): the
// client did nothing wrong, so the page is a 503 with Retry-After, never a 500 or a hang.
import { ServiceUnavailable } from "../http/errors";

export class DatabaseUnavailable extends ServiceUnavailable {
  constructor(operation: string, cause: unknown) {
    super(`database: ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      service: "database",
      retryAfterSeconds: 5,
      visitorText: "Accounts cannot be reached right now (log-in, sign-up, your account pages).",
      cause,
    });
  }
}
