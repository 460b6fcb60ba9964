// A remembered answer for work that gives the same answer for the same key for as long as
// the process runs (an HMAC under the secrets it started with), and that a request would
// otherwise redo each time: the session cookie's signature check, the page's CSRF token.
// It keeps at most `limit` answers and forgets the oldest first, so a client sending new
// keys can cost only time, never memory. Only answers are kept: a key whose work gives
// nothing (a cookie whose signature is wrong) is worked out again every time it comes.
export class Memo<V> {
  readonly #answers = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.#answers.size;
  }

  /** The answer for `key`: remembered, or worked out now (and remembered unless undefined). */
  answer(key: string, work: (key: string) => V | undefined): V | undefined {
    const known = this.#answers.get(key);
    if (known !== undefined) return known;
    const answer = work(key);
    if (answer === undefined) return undefined;
    if (this.#answers.size >= this.limit) this.#answers.delete(this.#answers.keys().next().value!);
    this.#answers.set(key, answer);
    return answer;
  }
}
