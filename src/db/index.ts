// The database behind users and the log-in index, whichever engine it is: SQLite (a file,
// the default: one machine) or PostgreSQL (DATABASE_URL: instances on several machines).
// The rest of the app sees one async Database; src/auth/users.ts and src/auth/logins.ts
// hold each engine's queries.
import type { Config } from "../config";
import { redactUrl } from "../sessions/redis";
import { DatabaseUnavailable } from "./errors";
import { connectPostgres, type Postgres } from "./postgres";
import { openDatabase, type SqliteFile } from "./sqlite";

export { BetterSqlite3, openDatabase, type SqliteFile } from "./sqlite";
export { MIGRATIONS } from "./migrations";
export { DatabaseUnavailable } from "./errors";

interface Common {
  /** Where it is, for people: a file, or the URL with its password masked. */
  readonly where: string;
  /** Resolves once the schema is up to date (PostgreSQL migrates here; SQLite at open). */
  ready(): Promise<void>;
  /** Any statement with ? placeholders (tests, the CLI, /healthz). */
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Rejects when the database does not answer (for /healthz). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface SqliteDatabase extends Common {
  readonly engine: "sqlite";
  readonly file: SqliteFile;
}

export interface PostgresDatabase extends Common {
  readonly engine: "postgres";
  readonly postgres: Postgres;
}

export type Database = SqliteDatabase | PostgresDatabase;
export type DatabaseEngine = Database["engine"];

export interface DatabaseDeps {
  onError: (err: unknown, msg: string) => void;
  onMigrated?: (from: number, to: number) => void;
}

/** Opens the database the config names: synchronous, so createApp stays synchronous. */
export function connectDatabase(config: Config, deps: DatabaseDeps): Database {
  if (config.databaseUrl) return postgresDatabase(config.databaseUrl, config.databasePoolSize, deps);
  return sqliteDatabase(config.databasePath);
}

function sqliteDatabase(path: string): SqliteDatabase {
  const file = openDatabase(path);
  return {
    engine: "sqlite",
    file,
    where: path,
    ready: async () => undefined,
    async query<Row>(sql: string, params: unknown[] = []) {
      const statement = file.prepare(sql);
      if (statement.reader) return statement.all(...params) as Row[];
      statement.run(...params);
      return [];
    },
    async check() {
      file.prepare("SELECT 1").get();
    },
    async close() {
      file.close();
    },
  };
}

function postgresDatabase(url: string, poolSize: number, deps: DatabaseDeps): PostgresDatabase {
  const postgres = connectPostgres({ url, poolSize, ...deps });
  return {
    engine: "postgres",
    postgres,
    where: redactUrl(url),
    ready: postgres.ready,
    query<Row>(sql: string, params?: unknown[]) {
      let n = 0;
      return postgres.sql<Row>(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
    },
    async check() {
      await postgres.sql("SELECT 1");
    },
    close: postgres.close,
  };
}

/** True for the errors that mean "the database is not there now" (a 503, not a 500). */
export const isDatabaseOutage = (err: unknown): err is DatabaseUnavailable =>
  err instanceof DatabaseUnavailable;
