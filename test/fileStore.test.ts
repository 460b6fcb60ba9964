import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { SessionData } from "express-session";
import { FileStore } from "../src/sessions/fileStore";
import { generateSessionId } from "../src/sessions/ids";
import { MemoryStore } from "../src/sessions/memoryStore";
import { openFilesIn, tempDir } from "./helpers";

const MINUTE = 60_000;

/** A session's data; `name` stands for any field a visitor's session may hold. */
function session(fields: Partial<SessionData> & { name?: string } = {}): SessionData {
  return { cookie: { originalMaxAge: null, path: "/", httpOnly: true }, ...fields } as SessionData;
}

/** The file store with one lifetime for every session, as these tests use it. */
class OneLifetimeStore extends FileStore {
  constructor(
    options: ConstructorParameters<typeof FileStore>[0],
    private readonly ttlMs: number,
  ) {
    super(options);
  }
  write = (id: string, data: SessionData) => this.set(id, data, this.ttlMs);
  read = async (id: string) =>
    ((await this.get(id))?.data ?? null) as (SessionData & { name?: string }) | null;
  extend = (id: string, _data?: SessionData) => this.touch(id, this.ttlMs);
}

/** A store in a fresh folder, with a clock the test moves and a log it can read. */
function makeStore(ttlMs = 30 * MINUTE) {
  const dir = tempDir("handstamp-store-");
  const clock = { now: Date.now() };
  const warnings: { file?: string }[] = [];
  const store = new OneLifetimeStore(
    {
      dir,
      logger: { warn: (obj: { file?: string }) => warnings.push(obj) },
      now: () => clock.now,
    },
    ttlMs,
  );
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
    await store.destroy(id);
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
    await store.destroy(id);
    await store.extend(id, session());
    expect(existsSync(fileOf(id))).toBe(false);
  });

  test("destroy removes the file, and destroying twice is fine", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    await store.destroy(id);
    await store.destroy(id);
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
    const reads: ((SessionData & { name?: string }) | null)[] = [];
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

  test("a file left empty by a crash between its creation and its write is no session, quietly, and is swept", async () => {
    const { store, fileOf, warnings, clock } = makeStore();
    const id = generateSessionId();
    writeFileSync(fileOf(id), ""); // created, never written
    clock.now = Date.now(); // read afterwards, as the next request would
    expect(await store.read(id)).toBeNull();
    expect(warnings).toEqual([]);
    expect(await store.sweep()).toBe(0); // it may be a session being created: left a minute
    clock.now += 2 * MINUTE;
    expect(await store.sweep()).toBe(1);
    expect(existsSync(fileOf(id))).toBe(false);
  });

  test("the record holds its expiry, first; the file's mtime is set to it as the sweep's hint", async () => {
    const { store, clock, fileOf } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const text = readFileSync(fileOf(id), "utf8");
    const expiry = new Date(clock.now + 30 * MINUTE);
    expect(text.startsWith(`{"expiresAt":"${expiry.toISOString()}",`)).toBe(true);
    expect(Math.round(statSync(fileOf(id)).mtimeMs)).toBe(expiry.getTime());
    expect(await store.read(id)).toEqual(session({ visits: 1, createdAt: clock.now })); // no expiresAt in it
  });

  test("get gives the data's JSON back as it was written, padding or not, for the layer to compare with", async () => {
    const { store, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    const big = session({ visits: 1, name: "x".repeat(200), createdAt: clock.now });
    await store.set(id, big, 30 * MINUTE, { json: JSON.stringify(big) });
    expect((await store.get(id))?.json).toBe(JSON.stringify(big));
    const small = session({ visits: 2, createdAt: clock.now }); // shrinks: padded with spaces
    await store.set(id, small, 30 * MINUTE, { json: JSON.stringify(small) });
    expect((await store.get(id))?.json).toBe(JSON.stringify(small));
    await store.set(id, {}, 30 * MINUTE, { json: "{}" });
    expect((await store.get(id))?.json).toMatch(/^\{"createdAt":\d+\}$/);
  });

  test.each([
    ["an empty record", (head: string) => `${head}}   `, {}],
    ["a comma with nothing after it", (head: string) => `${head},}`, null],
    [
      "a second expiresAt, in the past (the last one counts, as JSON.parse reads it)",
      (head: string) => `${head},"visits":1,"expiresAt":"2001-01-01T00:00:00.000Z"}`,
      null,
    ],
    ["spaces after the head", (head: string) => `${head} , "visits": 2 }`, { visits: 2 }],
    ["a head that is not the first key", (head: string) => `{"visits":3,${head.slice(1)}}`, { visits: 3 }],
    [
      "a no-break space at the end (not JSON's whitespace)",
      (head: string) => `${head},"visits":1}\u00a0`,
      null,
    ],
    ["a tab and a newline at the end", (head: string) => `${head},"visits":4}\t\n`, { visits: 4 }],
  ])("a record laid out by hand, %s, reads as JSON.parse reads it", async (_case, layout, expected) => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    writeFileSync(fileOf(id), layout(`{"expiresAt":"${new Date(clock.now + MINUTE).toISOString()}"`), {
      mode: 0o600,
    });
    const loaded = await store.get(id);
    if (expected === null) expect(loaded).toBeUndefined();
    else expect(loaded?.data).toEqual(expected);
  });

  test("a record written from the caller's JSON: that JSON behind the expiry, the bytes the data would give", async () => {
    const { store, clock, fileOf } = makeStore(30 * MINUTE);
    const [mine, given, fresh, odd] = [1, 2, 3, 4].map(() => generateSessionId());
    const data = session({ visits: 2, createdAt: clock.now - MINUTE });
    await store.set(mine!, data, 30 * MINUTE);
    await store.set(given!, data, 30 * MINUTE, { json: JSON.stringify(data) });
    expect(readFileSync(fileOf(given!), "utf8")).toBe(readFileSync(fileOf(mine!), "utf8"));
    // The JSON given is what is written: the session as the layer compared it when it saved.
    await store.set(given!, data, 30 * MINUTE, { json: JSON.stringify({ ...data, visits: 3 }) });
    expect(await store.read(given!)).toEqual({ ...data, visits: 3 });
    // A session never stored has no createdAt in its JSON yet: the store stamps it all the same.
    const unstamped = session({ visits: 1 });
    await store.set(fresh!, unstamped, 30 * MINUTE, { json: JSON.stringify(unstamped) });
    expect(await store.read(fresh!)).toEqual(session({ visits: 1, createdAt: clock.now }));
    // Data that names an `expiresAt` of its own cannot push the record's expiry aside.
    const named = { ...data, expiresAt: "2000-01-01T00:00:00.000Z" } as SessionData;
    await store.set(odd!, named, 30 * MINUTE, { json: JSON.stringify(named) });
    expect(readFileSync(fileOf(odd!), "utf8")).toBe(readFileSync(fileOf(mine!), "utf8"));
    expect(await store.read(odd!)).toEqual(data);
  });

  test.each([
    ["within a page", 1],
    ["over a page (replaced by a rename)", 5_000],
  ])(
    "a session written back as loaded, %s, is rewritten, but not brought back once deleted",
    async (_case, size) => {
      const { store, fileOf, dir } = makeStore();
      const id = generateSessionId();
      const data = session({ name: "x".repeat(size) });
      await store.write(id, data);
      expect(await store.set(id, { ...data, visits: 2 }, 30 * MINUTE, { existing: true })).toBe(true);
      expect(await store.read(id)).toMatchObject({ visits: 2 });
      await store.destroy(id); // ended elsewhere (log-out everywhere) while a request held it
      expect(await store.set(id, { ...data, visits: 3 }, 30 * MINUTE, { existing: true })).toBe(false);
      expect(existsSync(fileOf(id))).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    },
  );

  test.each([
    ["rewritten in place (an editor)", (file: string, text: string) => writeFileSync(file, text)],
    [
      "replaced by a rename (sed -i)",
      (file: string, text: string) => {
        writeFileSync(`${file}.edit`, text);
        renameSync(`${file}.edit`, file);
      },
    ],
  ])("a session file edited by hand, %s, keeps its session with the edited data", async (_case, save) => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 3 }));
    clock.now = Date.now() + MINUTE; // the learner opens the file a minute later
    save(fileOf(id), readFileSync(fileOf(id), "utf8").replace('"visits":3', '"visits":10'));
    expect(statSync(fileOf(id)).mtimeMs).toBeLessThan(clock.now); // by the hint, expired
    expect(await store.read(id)).toMatchObject({ visits: 10 });
    expect(await store.sweep()).toBe(0);
    expect(await store.read(id)).toMatchObject({ visits: 10 });
    // The sweep put the hint back: the file is not read again until it expires.
    expect(statSync(fileOf(id)).mtimeMs).toBeGreaterThan(clock.now);
  });

  test("an expiry edited into the past ends the session, and the sweep removes it", async () => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 3 }));
    const past = new Date(clock.now - MINUTE).toISOString();
    writeFileSync(
      fileOf(id),
      readFileSync(fileOf(id), "utf8").replace(/"expiresAt":"[^"]+"/, `"expiresAt":"${past}"`),
    );
    clock.now = Date.now() + 1_000; // the sweep runs after the edit
    expect(await store.read(id)).toBeNull();
    expect(await store.sweep()).toBe(1);
    expect(existsSync(fileOf(id))).toBe(false);
  });

  test("touch writes the new expiry over the old one and leaves the data's bytes alone", async () => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const before = readFileSync(fileOf(id), "utf8");
    clock.now += 10 * MINUTE;
    await store.extend(id, session({ visits: 1 }));
    const after = readFileSync(fileOf(id), "utf8");
    const expiry = new Date(clock.now + 30 * MINUTE);
    expect(after).toBe(before.replace(/"expiresAt":"[^"]+"/, `"expiresAt":"${expiry.toISOString()}"`));
    expect(Math.round(statSync(fileOf(id)).mtimeMs)).toBe(expiry.getTime());
  });

  test("touch on a file laid out by hand rewrites it from what is on disk, with the new expiry", async () => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const record = JSON.parse(readFileSync(fileOf(id), "utf8"));
    writeFileSync(fileOf(id), JSON.stringify({ ...record, visits: 5 }, null, 2)); // pretty, edited
    clock.now += 10 * MINUTE;
    await store.extend(id, session({ visits: 1 })); // the request's copy is older: not used
    expect(await store.read(id)).toMatchObject({ visits: 5 });
    clock.now += 35 * MINUTE; // 45 minutes after the write, 35 after the touch
    expect(await store.read(id)).toBeNull();
  });

  test("a file written before the expiry moved into the record still expires at its mtime", async () => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    writeFileSync(fileOf(id), JSON.stringify(session({ visits: 4 })));
    utimesSync(fileOf(id), new Date(), new Date(clock.now + 5 * MINUTE));
    expect(await store.read(id)).toMatchObject({ visits: 4 });
    await store.extend(id, session({ visits: 4 }));
    expect(readFileSync(fileOf(id), "utf8")).toMatch(/^\{"expiresAt":/);
    clock.now += 20 * MINUTE;
    expect(await store.read(id)).toMatchObject({ visits: 4 });
  });

  test.each([
    ["a FIFO", (file: string) => execFileSync("mkfifo", [file])],
    ["a link to a file outside the folder", (file: string, outside: string) => symlinkSync(outside, file)],
  ])(
    "%s named like a session file is no session, and nothing outside is read or written",
    async (_case, plant) => {
      const { store, dir, fileOf, warnings } = makeStore();
      const outside = path.join(tempDir(), "outside.json");
      const secret = JSON.stringify(session({ visits: 99, name: "not yours" }));
      writeFileSync(outside, secret);
      utimesSync(outside, new Date(), new Date(Date.now() + 60 * MINUTE));
      const id = generateSessionId();
      plant(fileOf(id), outside);

      expect(await store.read(id)).toBeNull(); // answers at once: no wait for a writer
      expect(await store.get(id, { hold: true })).toBeUndefined(); // as a request loads it
      expect(openFilesIn(dir)).toBe(0);
      await store.extend(id, session());
      expect(await store.list()).toEqual([]);
      expect(await store.describe(id)).toBeUndefined();
      expect(await store.sweep()).toBe(0);
      expect(warnings).toEqual([expect.objectContaining({ file: `${id}.json` })]);
      expect(readFileSync(outside, "utf8")).toBe(secret);

      // A session saved under that name gets a file of its own, in the folder.
      await store.write(id, session({ visits: 1 }));
      expect(lstatSync(fileOf(id)).isFile()).toBe(true);
      expect(await store.read(id)).toMatchObject({ visits: 1 });
      expect(readFileSync(outside, "utf8")).toBe(secret);
      expect(readdirSync(dir)).toEqual([`${id}.json`]);
    },
  );

  test("describe names the file within the folder, never the server's path to it", async () => {
    const { store, dir, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const info = await store.describe(id);
    expect(info).toMatchObject({ location: `${id}.json`, expiresAt: clock.now + 30 * MINUTE });
    expect(JSON.stringify(info)).not.toContain(dir);
  });

  test("fifty checks at once all pass, and leave no probe behind", async () => {
    const { store, dir } = makeStore();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => store.check()));
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
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
    expect(listed.map((s) => (s.data as { name?: string }).name)).toEqual(["second", "first"]);
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

  test("a write to a folder that is gone fails as 'store unavailable', with no file left", async () => {
    const { store, dir } = makeStore();
    require("node:fs").rmSync(dir, { recursive: true });
    await expect(store.write(generateSessionId(), session())).rejects.toMatchObject({ status: 503 });
    await expect(store.check()).rejects.toThrow();
  });
});

/** What `sed -i` does to a file: the edited text written to a new file, renamed over it. */
function sedInPlace(file: string, from: string, to: string): void {
  writeFileSync(`${file}.edit`, readFileSync(file, "utf8").replace(from, to));
  renameSync(`${file}.edit`, file);
}

describe("FileStore: a record held open from a request's read to its write", () => {
  test("get keeps the file open; the write, or the touch, goes through it and closes it", async () => {
    const { store, dir, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));

    const loaded = await store.get(id, { hold: true });
    expect(loaded?.held).toBeDefined();
    expect(openFilesIn(dir)).toBe(1);
    expect(
      await store.set(id, session({ visits: 2 }), 30 * MINUTE, { existing: true, held: loaded!.held }),
    ).toBe(true);
    expect(openFilesIn(dir)).toBe(0);
    expect(await store.read(id)).toMatchObject({ visits: 2 });

    const again = await store.get(id, { hold: true });
    clock.now += 20 * MINUTE;
    await store.touch(id, 30 * MINUTE, again!.held);
    expect(openFilesIn(dir)).toBe(0);
    clock.now += 20 * MINUTE; // 40 minutes after the write, 20 after the touch
    expect(await store.read(id)).toMatchObject({ visits: 2 });
  });

  test("a held file released without a write is closed, once however often it is released", async () => {
    const { store, dir } = makeStore();
    const id = generateSessionId();
    await store.write(id, session());
    const { held } = (await store.get(id, { hold: true }))!;
    held!.release();
    held!.release();
    expect(openFilesIn(dir)).toBe(0);
    // Released, it is no longer used: the write looks the file up by its name.
    expect(await store.set(id, session({ visits: 5 }), 30 * MINUTE, { existing: true, held })).toBe(true);
    expect(await store.read(id)).toMatchObject({ visits: 5 });
  });

  test("no file is kept open for a session that is not there, expired or unusable", async () => {
    const { store, dir, fileOf, clock } = makeStore(30 * MINUTE);
    const expired = generateSessionId();
    await store.write(expired, session());
    clock.now += 31 * MINUTE;
    const corrupt = generateSessionId();
    writeFileSync(fileOf(corrupt), "{not json");
    for (const id of [generateSessionId(), expired, corrupt]) {
      expect(await store.get(id, { hold: true })).toBeUndefined();
    }
    expect(openFilesIn(dir)).toBe(0);
  });

  test("a held session ended meanwhile (log-out everywhere) stays ended: its write says so, its touch brings nothing back", async () => {
    const { store, dir, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const first = await store.get(id, { hold: true });
    await store.destroy(id);
    expect(
      await store.set(id, session({ visits: 2 }), 30 * MINUTE, { existing: true, held: first!.held }),
    ).toBe(false);
    expect(existsSync(fileOf(id))).toBe(false);

    await store.write(id, session({ visits: 1 }));
    const second = await store.get(id, { hold: true });
    await store.destroy(id);
    await store.touch(id, 30 * MINUTE, second!.held);
    expect(existsSync(fileOf(id))).toBe(false);
    expect(openFilesIn(dir)).toBe(0);
  });

  test("a held session file replaced meanwhile (sed -i) takes the request's write under its name, as unheld", async () => {
    const { store, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 3 }));
    const { held } = (await store.get(id, { hold: true }))!;
    sedInPlace(fileOf(id), '"visits":3', '"visits":10');
    expect(await store.set(id, session({ visits: 4 }), 30 * MINUTE, { existing: true, held })).toBe(true);
    expect(await store.read(id)).toMatchObject({ visits: 4 });
  });

  test("a held session whose save fails (an expiry that is no date) answers 503 and keeps no file open", async () => {
    const { store, dir } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const { held } = (await store.get(id, { hold: true }))!;
    await expect(store.set(id, session({ visits: 2 }), NaN, { existing: true, held })).rejects.toMatchObject({
      status: 503,
    });
    expect(openFilesIn(dir)).toBe(0);
    expect(await store.read(id)).toMatchObject({ visits: 1 });
  });

  test("a held session file replaced meanwhile (sed -i) is touched under its name: the edit lives on", async () => {
    const { store, fileOf, clock } = makeStore(30 * MINUTE);
    const id = generateSessionId();
    await store.write(id, session({ visits: 3 }));
    const { held } = (await store.get(id, { hold: true }))!;
    sedInPlace(fileOf(id), '"visits":3', '"visits":10');
    clock.now += 20 * MINUTE;
    await store.touch(id, 30 * MINUTE, held);
    clock.now += 20 * MINUTE; // 40 minutes after the write, 20 after the touch
    expect(await store.read(id)).toMatchObject({ visits: 10 });
  });

  test("a held session that grows past a page is replaced by a rename, and its file closed", async () => {
    const { store, dir, fileOf } = makeStore();
    const id = generateSessionId();
    await store.write(id, session({ visits: 1 }));
    const { held } = (await store.get(id, { hold: true }))!;
    const big = session({ name: "x".repeat(5_000) });
    expect(await store.set(id, big, 30 * MINUTE, { existing: true, held })).toBe(true);
    expect(openFilesIn(dir)).toBe(0);
    expect(statSync(fileOf(id)).size).toBeGreaterThan(5_000);
    expect(await store.read(id)).toMatchObject({ name: "x".repeat(5_000) });
  });

  test("a held record is used for its own session only", async () => {
    const { store } = makeStore();
    const [a, b] = [generateSessionId(), generateSessionId()];
    await store.write(a, session({ visits: 1 }));
    await store.write(b, session({ visits: 1 }));
    const { held } = (await store.get(a, { hold: true }))!;
    expect(await store.set(b, session({ visits: 7 }), 30 * MINUTE, { existing: true, held })).toBe(true);
    expect(await store.read(a)).toMatchObject({ visits: 1 });
    expect(await store.read(b)).toMatchObject({ visits: 7 });
    held!.release();
  });
});

describe("MemoryStore", () => {
  test("does not bring back a session deleted meanwhile", async () => {
    const store = new MemoryStore();
    const id = generateSessionId();
    await store.set(id, session({ visits: 1 }), 30 * MINUTE);
    expect(await store.set(id, session({ visits: 2 }), 30 * MINUTE, { existing: true })).toBe(true);
    expect((await store.get(id))?.data).toMatchObject({ visits: 2 });
    await store.destroy(id);
    expect(await store.set(id, session({ visits: 3 }), 30 * MINUTE, { existing: true })).toBe(false);
    expect(await store.get(id)).toBeUndefined();
  });
});
