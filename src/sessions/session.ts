// `req.session` and its cookie, with express-session's API (id, cookie, regenerate,
// destroy, save, reload, touch, plain properties), so code and lessons written for
// express-session read the same here. What the methods do to the store and the response
// is the session layer's (sessionLayer.ts): a session only holds its data and asks.
import type { SessionData } from "express-session";

/** What a session asks of the layer that made it; each settles once the store has answered. */
export interface SessionControl {
  regenerate(): Promise<void>;
  destroy(): Promise<void>;
  save(): Promise<void>;
  reload(): Promise<void>;
  touch(): void;
}

type Callback = (err?: unknown) => void;

/** The session cookie's attributes, and its lifetime when it has one (remember-me). */
export class SessionCookie {
  /** The lifetime given when it was set (ms); null: the cookie ends with the browser. */
  originalMaxAge: number | null = null;
  expires: Date | null = null;
  httpOnly = true;
  secure: boolean;
  sameSite = "lax" as const;
  path = "/";
  readonly #now: () => number;

  constructor(secure: boolean, now: () => number, stored?: { originalMaxAge?: unknown; expires?: unknown }) {
    this.secure = secure;
    this.#now = now;
    if (typeof stored?.originalMaxAge === "number" && typeof stored.expires === "string") {
      const expires = new Date(stored.expires);
      if (!Number.isNaN(expires.getTime())) {
        this.originalMaxAge = stored.originalMaxAge;
        this.expires = expires;
      }
    }
  }

  /** What is left of its lifetime (ms), or undefined for a cookie that ends with the browser. */
  get maxAge(): number | undefined {
    return this.expires ? this.expires.getTime() - this.#now() : undefined;
  }

  set maxAge(ms: number | undefined | null) {
    if (ms === undefined || ms === null) {
      this.expires = null;
      this.originalMaxAge = null;
    } else {
      this.expires = new Date(this.#now() + ms);
      this.originalMaxAge = ms;
    }
  }

  toJSON() {
    const { originalMaxAge, expires, secure, httpOnly, path, sameSite } = this;
    return { originalMaxAge, expires, secure, httpOnly, path, sameSite };
  }
}

export class Session {
  declare readonly id: string;
  cookie: SessionCookie;
  declare readonly control: SessionControl;

  constructor(id: string, cookie: SessionCookie, data: Partial<SessionData>, control: SessionControl) {
    // Not stored with the data: the id is the record's name, the control is this request's.
    Object.defineProperty(this, "id", { value: id });
    Object.defineProperty(this, "control", { value: control });
    this.cookie = cookie;
    // Object.assign's copy, but never a stored "__proto__" (it would set the session's
    // prototype, and take its methods away).
    for (const key of Object.keys(data)) {
      if (key !== "cookie" && key !== "__proto__") (this as Record<string, unknown>)[key] = data[key as keyof SessionData];
    }
  }

  regenerate(callback: Callback): this {
    return this.settle(this.control.regenerate(), callback);
  }

  destroy(callback: Callback): this {
    return this.settle(this.control.destroy(), callback);
  }

  save(callback?: Callback): this {
    return this.settle(this.control.save(), callback);
  }

  reload(callback: Callback): this {
    return this.settle(this.control.reload(), callback);
  }

  /** The cookie's lifetime starts again (express-session's resetMaxAge). */
  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge;
    return this;
  }

  /** Marks the session used: its expiry in the store is pushed forward at the end of the request. */
  touch(): this {
    this.resetMaxAge();
    this.control.touch();
    return this;
  }

  private settle(work: Promise<void>, callback?: Callback): this {
    work.then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
    return this;
  }
}
