// A failure of the session storage itself (folder gone, disk full, permissions): the
// client did nothing wrong, so it gets a 503 with Retry-After, never a 500.
export class SessionStoreUnavailable extends Error {
  readonly status = 503;
  readonly retryAfterSeconds = 5;
  constructor(operation: string, cause: unknown) {
    super(`session store: ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = "SessionStoreUnavailable";
  }
}
