// A bounded memory of answers, the least recently used forgotten first (nearly: an entry used
// again stays at least among the newer half), so a client that sends new keys costs at most
// `limit` entries. Two uses:
// - work that gives the same answer for the same key for as long as the process runs (an
//   HMAC under the secrets it started with), which a request would otherwise redo each
//   time: the session cookie's signature check, the page's CSRF token (`answer`). Only
//   answers are kept: a key whose work gives nothing (a cookie whose signature is wrong) is
//   worked out every time;
// - what a request saw last, kept for the next ones (`get`, `set`): when a session's log-in
//   was last confirmed in the database.

/** The default limit: with keys of about a hundred characters, a few MB at most. */
const MEMO_LIMIT = 10_000;

export class Memo<V> {
  /**
   * In the order of insertion or last move (about the order of last use), the oldest first;
   * `tick`: that insertion or move's number.
   */
  readonly #answers = new Map<string, { value: V; tick: number }>();
  /** The number the next insertion or move gets. */
  #tick = 0;

  constructor(private readonly limit = MEMO_LIMIT) {}

  get size(): number {
    return this.#answers.size;
  }

  /**
   * What is kept for `key`, if anything; it becomes (nearly) the most recently used. An entry
   * in the newer half of the line is left where it is: it is among the last to be forgotten
   * anyway, and moving it (a Map delete and set) on every use would cost every request.
   */
  get(key: string): V | undefined {
    const known = this.#answers.get(key);
    if (known === undefined) return undefined;
    if (known.tick < this.#tick - (this.#answers.size >> 1)) {
      // Used again from the older half: it moves to the back of the line, the last to go.
      this.#answers.delete(key);
      known.tick = this.#tick++;
      this.#answers.set(key, known);
    }
    return known.value;
  }

  /** Keeps `value` for `key`, forgetting the (nearly) least recently used entry if the memo is full. */
  set(key: string, value: V): void {
    if (!this.#answers.delete(key) && this.#answers.size >= this.limit) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
    // A copy of the key: a cookie's value may be a slice of its request's whole Cookie
    // header (up to 16 KB), which the key would otherwise keep alive.
    this.#answers.set(JSON.parse(JSON.stringify(key)) as string, { value, tick: this.#tick++ });
  }

  /** Forgets `key`. */
  delete(key: string): void {
    this.#answers.delete(key);
  }

  /** The answer for `key`: remembered, or worked out now (and remembered unless undefined). */
  answer(key: string, work: (key: string) => V | undefined): V | undefined {
    const known = this.get(key);
    if (known !== undefined) return known;
    const answer = work(key);
    if (answer !== undefined) this.set(key, answer);
    return answer;
  }
}
