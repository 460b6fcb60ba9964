// The PostgreSQL engine (node-postgres): a small pool per instance, for deployments where
// several instances share one database. Every query is bounded (connect and read
// timeouts), so a stopped or paused server costs a request a few seconds and a 503, never
// a hang; a connection that failed is dropped, and the next query opens a new one.
import { Client, DatabaseError, Pool, types } from "pg";
import { DatabaseUnavailable } from "./errors";
import { MIGRATIONS } from "./migrations";

/** How long a query waits for a connection (a new one, or a free one from the pool). */
export const CONNECT_TIMEOUT_MS = 2_000;
/** How long a query waits for its answer once sent. */
export const QUERY_TIMEOUT_MS = 3_000;
/** Waiting for another instance's migrations is allowed longer than a page's query. */
const MIGRATION_WAIT_MS = 60_000;
/** The advisory lock that lets one instance migrate while the others wait: any constant. */
const MIGRATION_LOCK = 4_862_471_093;

export const MIGRATIONS_TABLE = "handstamp_migrations";

const INT8 = 20;
/**
 * Times are milliseconds since 1970 in BIGINT columns, and count(*) is a BIGINT: both fit
 * a JavaScript number, so they are read as numbers, not the strings pg gives by default.
 */
const parsers = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8 ? Number : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
};

export interface PostgresOptions {
  url: string;
  poolSize: number;
  onError: (err: unknown, msg: string) => void;
  /** Told once when this instance applied migrations (not when another one did). */
  onMigrated?: (from: number, to: number) => void;
}

export interface Postgres {
  pool: Pool;
  /** Runs one statement ($1, $2 … placeholders); DatabaseUnavailable when the server is not there. */
  sql<Row>(text: string, values?: unknown[]): Promise<Row[]>;
  /** Migrates once; after a failure (the server was down) the next call tries again. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** A failure of the server or the way to it, as opposed to a mistake in a query. */
function isOutage(err: unknown): boolean {
  if (!(err instanceof DatabaseError)) return true; // refused, reset, timed out, terminated
  // Connection exceptions, insufficient resources, operator intervention (a shutdown,
  // "the database system is starting up"), system errors.
  return /^(08|53|57|58)/.test(err.code ?? "");
}

export function connectPostgres({ url, poolSize, onError, onMigrated }: PostgresOptions): Postgres {
  const pool = new Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    types: parsers,
  });
  // An idle connection that breaks (the server restarted) is reported here: without a
  // listener it would crash the process. The pool drops it and opens another when needed.
  pool.on("error", (err) => onError(err, "a PostgreSQL connection failed"));

  async function raw<Row>(text: string, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await pool.query(text, values)).rows as Row[];
    } catch (err) {
      throw isOutage(err) ? new DatabaseUnavailable("query", err) : err;
    }
  }

  let migrated: Promise<void> | undefined;
  function ready(): Promise<void> {
    migrated ??= migrate(url, onMigrated).catch((err: unknown) => {
      migrated = undefined;
      throw isOutage(err) ? new DatabaseUnavailable("migration", err) : err;
    });
    return migrated;
  }

  return {
    pool,
    ready,
    async sql<Row>(text: string, values?: unknown[]) {
      await ready();
      return raw<Row>(text, values);
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * Runs the migrations not applied yet, in one transaction under an advisory lock: two
 * instances starting together on an empty database take turns, and the second finds
 * nothing left to do (as BEGIN IMMEDIATE does for SQLite).
 */
async function migrate(url: string, onMigrated?: (from: number, to: number) => void): Promise<void> {
  // A connection of its own, outside the pool: it may wait on another instance's lock
  // longer than a page's query may wait.
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: MIGRATION_WAIT_MS,
    types: parsers,
  });
  // A connection that breaks mid-migration must not crash the process: the query in
  // flight fails, and so does this migration (the next query tries again).
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`,
    );
    const { rows } = await client.query<{ current: number }>(
      `SELECT coalesce(max(version), 0)::integer AS current FROM ${MIGRATIONS_TABLE}`,
    );
    const current = rows[0]!.current;
    for (let version = current; version < MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version]!.postgres);
      await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (version, applied_at) VALUES ($1, $2)`, [
        version + 1,
        Date.now(),
      ]);
    }
    await client.query("COMMIT");
    if (current < MIGRATIONS.length) onMigrated?.(current, MIGRATIONS.length);
  } finally {
    // Ending the connection rolls back whatever did not commit, and frees the lock.
    await client.end().catch(() => undefined);
  }
}
