import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { SessionData } from "express-session";
import { FileStore } from "../src/sessions/fileStore";
import { generateSessionId } from "../src/sessions/ids";
import { tempDir } from "./helpers";

const MINUTE = 60_000;

function session(fields: Partial<SessionData> = {}): SessionData {
  return { cookie: { originalMaxAge: null, path: "/", httpOnly: true }, ...fields } as SessionData;
}

/** A store in a fresh folder, with a clock the test moves and a log it can read. */
function makeStore(ttlMs = 30 * MINUTE) {
  const dir = tempDir("handstamp-store-");
  const clock = { now: Date.now() };
  const warnings: { file?: string }[] = [];
  const store = new FileStore({
    dir,
    ttlMs: () => ttlMs,
    logger: { warn: (obj: { file?: string }) => warnings.push(obj) },
    now: () => clock.now,
  });
  return { store, dir, clock, warnings, fileOf: (id: string) => path.join(dir, `${id}.json`) };
}

describe("FileStore", () => {
  test("set then get gives the data back, from one JSON file named after the id", async () => {
    const { store, dir, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 3, name: "ada" }));
    expect(await store.read(id)).toMatchObject({ visits: 3, name: "ada" });
    expect(readdirSync(dir)).toEqual([`${id}.json`]);
    expect(JSON.parse(readFileSync(fileOf(id), "utf8"))).toMatchObject({ visits: 3 });
  });

  test("the file is readable by its owner only", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    expect(statSync(fileOf(id)).mode & 0o777).toBe(0o600);
  });

  test("an unknown id is no session, at once, and is not logged", async () => {
    const { store, warnings } = makeStore();
    const started = process.hrtime.bigint();
    expect(await store.read(generateSessionId())).toBeNull();
    expect(process.hrtime.bigint() - started).toBeLessThan(200_000_000n); // no retry loop
    expect(warnings).toEqual([]);
  });

  test.each([
    ["a path", "../../etc/passwd"],
    ["a short id", "abc"],
    ["an id with a slash", `${"a".repeat(42)}/`],
    ["an id with a dot", `${"a".repeat(42)}.`],
    ["an oversized id", "a".repeat(5000)],
    ["an empty id", ""],
  ])("refuses %s before it becomes a file name", async (_case, id) => {
    const { store, dir } = makeStore();
    expect(store.fileFor(id)).toBeUndefined();
    expect(await store.read(id)).toBeNull();
    await expect(store.write(id, session())).rejects.toThrow(/malformed session id/);
    await store.extend(id, session());
    await store.remove(id);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a session expires after its idle time, and touch pushes the expiry forward", async () => {
    const { store, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    clock.now += 20 * MINUTE;
    await store.extend(id, session({ visits: 1 }));
    clock.now += 20 * MINUTE; // 40 minutes after the write, 20 after the touch
    expect(await store.read(id)).toMatchObject({ visits: 1 });
    clock.now += 11 * MINUTE;
    expect(await store.read(id)).toBeNull();
  });

  test("touch does not rewrite the data, so it cannot undo a concurrent write", async () => {
    const { store } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const stale = session({ visits: 1 });
    await store.write(id, session({ visits: 2 })); // another request saved meanwhile
    await store.extend(id, stale); // a slow request that changed nothing touches
    expect(await store.read(id)).toMatchObject({ visits: 2 });
  });

  test("touch on a deleted session does not bring it back", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    await store.remove(id);
    await store.extend(id, session());
    expect(existsSync(fileOf(id))).toBe(false);
  });

  test("destroy removes the file, and destroying twice is fine", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    await store.remove(id);
    await store.remove(id);
    expect(existsSync(fileOf(id))).toBe(false);
    expect(await store.read(id)).toBeNull();
  });

  test("a corrupt file is no session, logged once with its name", async () => {
    const { store, fileOf, warnings } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    writeFileSync(fileOf(id), '{"cookie": {"path": "/"'); // cut short
    utimesSync(fileOf(id), new Date(), new Date(Date.now() + MINUTE));
    expect(await store.read(id)).toBeNull();
    expect(await store.read(id)).toBeNull();
    expect(warnings).toEqual([expect.objectContaining({ file: `${id}.json` })]);
  });

  test("an unreadable file is no session, not an error", async () => {
    if (process.getuid?.() === 0) {
      // root reads anything: a folder where the file should be is unreadable as a file
      const { store, fileOf, warnings } = makeStore();
      const id = generateSessionId();
      require("node:fs").mkdirSync(fileOf(id));
      utimesSync(fileOf(id), new Date(), new Date(Date.now() + MINUTE));
      expect(await store.read(id)).toBeNull();
      expect(warnings).toHaveLength(1);
      return;
    }
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    chmodSync(fileOf(id), 0o000);
    expect(await store.read(id)).toBeNull();
  });

  test("a write goes through a temporary file: the folder never holds half a session", async () => {
    const { store, dir } = makeStore();
    const id = generateSessionId();
    const big = session({ name: "x".repeat(200_000) });
    const writes = Array.from({ length: 20 }, (_, i) => store.write(id, { ...big, visits: i }));
    const reads: (SessionData | null)[] = [];
    for (let i = 0; i < 20; i++) reads.push(await store.read(id));
    await Promise.all(writes);
    for (const data of reads) if (data) expect(data.name).toHaveLength(200_000);
    expect(readdirSync(dir)).toEqual([`${id}.json`]);
  });

  test("a session that shrinks is rewritten in place and reads back whole", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ name: "x".repeat(3_000) }));
    const { ino, size } = statSync(fileOf(id));
    await store.write(id, session({ name: "ada", visits: 2 }));
    expect(await store.read(id)).toMatchObject({ name: "ada", visits: 2 });
    // Same file, same length: the end is blank padding, which JSON ignores.
    expect(statSync(fileOf(id))).toMatchObject({ ino, size });
    expect(JSON.parse(readFileSync(fileOf(id), "utf8"))).toMatchObject({ name: "ada" });
  });

  test("a session larger than a page is replaced whole, and shrinks back to its size", async () => {
    const { store, dir, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    await store.write(id, session({ name: "x".repeat(10_000) }));
    expect((await store.read(id))?.name).toHaveLength(10_000);
    await store.write(id, session({ visits: 3 }));
    expect(await store.read(id)).toMatchObject({ visits: 3 });
    expect(statSync(fileOf(id)).size).toBeLessThan(500);
    expect(readdirSync(dir)).toEqual([`${id}.json`]);
  });

  test("a file cut short while it was being created counts as expired, quietly, and is swept", async () => {
    const { store, fileOf, warnings, clock } = makeStore();
    const id = generateSessionId();
    writeFileSync(fileOf(id), '{"cookie":'); // created, written in part, no expiry set yet
    clock.now = Date.now(); // read afterwards, as the next request would
    expect(await store.read(id)).toBeNull();
    expect(warnings).toEqual([]);
    expect(await store.sweep()).toBe(1);
    expect(existsSync(fileOf(id))).toBe(false);
  });

  test("the sweep removes expired sessions and stale temporary files, and keeps the rest", async () => {
    const { store, dir, clock } = makeStore(30 * MINUTE);
    const old = Array.from({ length: 150 }, () => generateSessionId());
    for (const id of old) await store.write(id, session());
    clock.now += 20 * MINUTE;
    const fresh = Array.from({ length: 5 }, () => generateSessionId());
    for (const id of fresh) await store.write(id, session());
    const crashed = path.join(dir, `.${fresh[0]}.abcdef.tmp`);
    writeFileSync(crashed, "{");
    writeFileSync(path.join(dir, "notes.txt"), "not a session");
    clock.now += 15 * MINUTE; // the first 150 are 35 minutes old, the last 5 are 15

    expect(await store.sweep()).toBe(150);
    expect(readdirSync(dir).sort()).toEqual([...fresh.map((id) => `${id}.json`), "notes.txt"].sort());
    expect(existsSync(crashed)).toBe(false);
  });

  test("list shows live sessions with their expiry, newest first", async () => {
    const { store, clock } = makeStore(30 * MINUTE);
    const first = generateSessionId();
    await store.write(first, session({ name: "first" }));
    clock.now += MINUTE;
    const second = generateSessionId();
    await store.write(second, session({ name: "second" }));
    const listed = await store.list();
    expect(listed.map((s) => s.data.name)).toEqual(["second", "first"]);
    expect(listed[0]!.expiresAt).toBeCloseTo(clock.now + 30 * MINUTE, -3);
  });

  test("clear removes every session", async () => {
    const { store, dir } = makeStore();
    for (let i = 0; i < 10; i++) await store.write(generateSessionId(), session());
    expect(await store.clear()).toBe(10);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("many sessions live side by side", async () => {
    const { store } = makeStore();
    const ids = Array.from({ length: 500 }, () => generateSessionId());
    await Promise.all(ids.map((id, i) => store.write(id, session({ visits: i }))));
    const back = await Promise.all(ids.map((id) => store.read(id)));
    expect(back.map((s) => s?.visits)).toEqual(ids.map((_, i) => i));
    expect(new Set(ids).size).toBe(500);
  });

  test("the express-session callbacks report the same results", async () => {
    const { store } = makeStore();
    const id = generateSessionId();
    await new Promise<void>((resolve, reject) =>
      store.set(id, session({ visits: 9 }), (err) => (err ? reject(err) : resolve())),
    );
    const data = await new Promise((resolve, reject) =>
      store.get(id, (err, s) => (err ? reject(err) : resolve(s))),
    );
    expect(data).toMatchObject({ visits: 9 });
    await new Promise<void>((resolve) => store.destroy(id, () => resolve()));
    expect(await store.read(id)).toBeNull();
  });

  test("a write to a folder that is gone fails as 'store unavailable', with no file left", async () => {
    const { store, dir } = makeStore();
    require("node:fs").rmSync(dir, { recursive: true });
    await expect(store.write(generateSessionId(), session())).rejects.toMatchObject({ status: 503 });
    await expect(store.check()).rejects.toThrow();
  });
});
