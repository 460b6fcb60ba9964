// Users: names are unique whatever their case. One async interface, one implementation per
// engine (src/db): the routes never know which one runs.
import type { Database, PostgresDatabase, SqliteDatabase } from "../db";

export interface User {
  id: number;
  username: string;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

export interface UserSummary extends User {
  createdAt: number;
}

export interface Users {
  /** The new user, or undefined when the name is taken. */
  create(username: string, passwordHash: string): Promise<User | undefined>;
  findByName(username: string): Promise<UserWithHash | undefined>;
  findById(id: number): Promise<UserWithHash | undefined>;
  setPasswordHash(id: number, passwordHash: string): Promise<void>;
  count(): Promise<number>;
  /** Every user, by name (for `npm run users`). */
  list(): Promise<UserSummary[]>;
  /** Deletes the user and, with it, their rows in the log-in index; false if there was none. */
  remove(id: number): Promise<boolean>;
}

export function createUsers(db: Database, now: () => number = Date.now): Users {
  return db.engine === "postgres" ? postgresUsers(db, now) : sqliteUsers(db, now);
}

const FIELDS = 'id, username, password_hash AS "passwordHash"';
const SUMMARY = 'id, username, created_at AS "createdAt"';

function sqliteUsers({ file }: SqliteDatabase, now: () => number): Users {
  const insert = file.prepare(
    "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const byName = file.prepare<[string], UserWithHash>(`SELECT ${FIELDS} FROM users WHERE username = ?`);
  const byId = file.prepare<[number], UserWithHash>(`SELECT ${FIELDS} FROM users WHERE id = ?`);
  const setHash = file.prepare("UPDATE users SET password_hash = ? WHERE id = ?");
  const total = file.prepare<[], { n: number }>("SELECT count(*) AS n FROM users");
  const all = file.prepare<[], UserSummary>(`SELECT ${SUMMARY} FROM users ORDER BY username`);
  const remove = file.prepare("DELETE FROM users WHERE id = ?");
  return {
    async create(username, passwordHash) {
      const result = insert.run(username, passwordHash, now());
      return result.changes === 1 ? { id: Number(result.lastInsertRowid), username } : undefined;
    },
    findByName: async (username) => byName.get(username),
    findById: async (id) => byId.get(id),
    async setPasswordHash(id, passwordHash) {
      setHash.run(passwordHash, id);
    },
    count: async () => total.get()!.n,
    list: async () => all.all(),
    remove: async (id) => remove.run(id).changes === 1,
  };
}

function postgresUsers({ postgres }: PostgresDatabase, now: () => number): Users {
  const { sql } = postgres;
  const one = async <Row>(text: string, values: unknown[]) => (await sql<Row>(text, values))[0];
  return {
    create: (username, passwordHash) =>
      one<User>(
        `INSERT INTO users (username, password_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING id, username`,
        [username, passwordHash, now()],
      ),
    findByName: (username) =>
      one<UserWithHash>(`SELECT ${FIELDS} FROM users WHERE lower(username) = lower($1)`, [username]),
    findById: (id) => one<UserWithHash>(`SELECT ${FIELDS} FROM users WHERE id = $1`, [id]),
    async setPasswordHash(id, passwordHash) {
      await sql("UPDATE users SET password_hash = $1 WHERE id = $2", [passwordHash, id]);
    },
    count: async () => (await one<{ n: number }>("SELECT count(*) AS n FROM users", []))!.n,
    list: () => sql<UserSummary>(`SELECT ${SUMMARY} FROM users ORDER BY lower(username)`),
    remove: async (id) =>
      (await sql<User>("DELETE FROM users WHERE id = $1 RETURNING id", [id])).length === 1,
  };
}
