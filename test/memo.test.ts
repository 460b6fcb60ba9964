import { Memo } from "../src/http/memo";

describe("Memo", () => {
  test("works out an answer once, then gives it back without working again", () => {
    const memo = new Memo<string>(10);
    let worked = 0;
    const work = (key: string) => (worked++, key.toUpperCase());
    expect(memo.answer("a", work)).toBe("A");
    expect(memo.answer("a", work)).toBe("A");
    expect(worked).toBe(1);
  });

  test("keeps no answer of nothing: a key whose work gives none is worked out every time", () => {
    const memo = new Memo<string>(10);
    let worked = 0;
    const refuse = () => (worked++, undefined);
    expect(memo.answer("forged", refuse)).toBeUndefined();
    expect(memo.answer("forged", refuse)).toBeUndefined();
    expect(worked).toBe(2);
    expect(memo.size).toBe(0);
  });

  test("keeps at most its limit, forgetting the answer least recently used", () => {
    const memo = new Memo<number>(3);
    const worked: string[] = [];
    const work = (key: string) => (worked.push(key), key.length);
    for (const key of ["a", "bb", "ccc"]) memo.answer(key, work);
    memo.answer("a", work); // used again: now the last to go
    memo.answer("dddd", work); // one too many: "bb" goes
    expect(memo.size).toBe(3);
    memo.answer("a", work); // still known
    memo.answer("bb", work); // forgotten: worked out again
    expect(worked).toEqual(["a", "bb", "ccc", "dddd", "bb"]);
    expect(memo.size).toBe(3);
  });

  test("set replaces a key's value without pushing another out; delete forgets it", () => {
    const memo = new Memo<number>(2);
    memo.set("a", 1);
    memo.set("b", 2);
    memo.set("a", 3); // a known key: nothing is forgotten for it
    expect([memo.get("a"), memo.get("b"), memo.size]).toEqual([3, 2, 2]);
    memo.set("c", 4); // a new one: "a", used least recently, goes
    expect([memo.get("a"), memo.get("b"), memo.get("c")]).toEqual([undefined, 2, 4]);
    memo.delete("b");
    expect([memo.get("b"), memo.size]).toEqual([undefined, 1]);
  });
});

describe("Memo under steady use", () => {
  test("an entry used again outlives at least half the memo's worth of new keys, wherever it stood", () => {
    const limit = 100;
    for (let position = 0; position < limit; position++) {
      const memo = new Memo<number>(limit);
      for (let i = 0; i < limit; i++) memo.set(`k${i}`, i);
      expect(memo.get(`k${position}`)).toBe(position); // used again, from anywhere in the line
      for (let i = 0; i < limit / 2; i++) memo.set(`new${i}`, i);
      expect(memo.get(`k${position}`)).toBe(position);
      expect(memo.size).toBe(limit);
    }
  });
});
