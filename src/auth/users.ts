// Users in SQLite: names are unique whatever their case (COLLATE NOCASE).
import type { Database } from "../db";

export interface User {
  id: number;
  username: string;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

export interface Users {
  /** The new user, or undefined when the name is taken. */
  create(username: string, passwordHash: string): User | undefined;
  findByName(username: string): UserWithHash | undefined;
  findById(id: number): UserWithHash | undefined;
  setPasswordHash(id: number, passwordHash: string): void;
  count(): number;
}

export function createUsers(db: Database, now: () => number = Date.now): Users {
  const insert = db.prepare(
    "INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const byName = db.prepare<[string], UserWithHash>(
    "SELECT id, username, password_hash AS passwordHash FROM users WHERE username = ?",
  );
  const byId = db.prepare<[number], UserWithHash>(
    "SELECT id, username, password_hash AS passwordHash FROM users WHERE id = ?",
  );
  const setHash = db.prepare("UPDATE users SET password_hash = ? WHERE id = ?");
  const total = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM users");
  return {
    create(username, passwordHash) {
      const result = insert.run(username, passwordHash, now());
      return result.changes === 1 ? { id: Number(result.lastInsertRowid), username } : undefined;
    },
    findByName: (username) => byName.get(username),
    findById: (id) => byId.get(id),
    setPasswordHash(id, passwordHash) {
      setHash.run(passwordHash, id);
    },
    count: () => total.get()!.n,
  };
}
