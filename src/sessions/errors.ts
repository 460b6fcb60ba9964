// The session layer's 503s: a failure of the session storage itself (folder gone, disk
// full, permissions, Redis out of reach) or of the limiters that live beside it. The
// client did nothing wrong, so it gets a 503 with Retry-After, never a 500.
import { ServiceUnavailable } from "../http/errors";

export class SessionStoreUnavailable extends ServiceUnavailable {
  constructor(operation: string, cause: unknown) {
    super(`session store: ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      service: "session store",
      retryAfterSeconds: 5,
      visitorText: "Sessions cannot be stored right now.",
      cause,
    });
  }
}

/** The counts of tries (log-in throttle, new sessions) cannot be read or written. */
export class LimiterUnavailable extends ServiceUnavailable {
  constructor(operation: string, cause: unknown) {
    super(`limiter: ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      service: "limiter",
      retryAfterSeconds: 5,
      visitorText: "Log-in and sign-up attempts cannot be counted right now.",
      cause,
    });
  }
}
