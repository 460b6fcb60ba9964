// The database did not answer (stopped, paused, unreachable, out of connections): the
// client did nothing wrong, so the page is a 503 with Retry-After, never a 500 or a hang.
export class DatabaseUnavailable extends Error {
  readonly status = 503;
  readonly retryAfterSeconds = 5;
  constructor(operation: string, cause: unknown) {
    super(`database: ${operation} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "DatabaseUnavailable";
  }
}
