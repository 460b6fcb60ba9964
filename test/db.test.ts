import path from "node:path";
import { openDatabase } from "../src/db";
import { tempDir } from "./helpers";

describe("the database", () => {
  test("is created with its tables on first open, and reopening migrates nothing twice", () => {
    const file = path.join(tempDir(), "data", "handstamp.db");
    const first = openDatabase(file);
    const second = openDatabase(file); // a second process starting on the same file
    expect(second.pragma("user_version", { simple: true })).toBeGreaterThan(0);
    expect(second.pragma("journal_mode", { simple: true })).toBe("wal");
    first.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('a', 'h', 0)").run();
    expect(second.prepare("SELECT count(*) AS n FROM users").get()).toEqual({ n: 1 });
    first.close();
    second.close();
  });

  test("names are unique whatever their case", () => {
    const db = openDatabase(path.join(tempDir(), "u.db"));
    db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('Ada', 'h', 0)").run();
    expect(() =>
      db.prepare("INSERT INTO users (username, password_hash, created_at) VALUES ('ada', 'h', 0)").run(),
    ).toThrow(/UNIQUE/);
    db.close();
  });
});
