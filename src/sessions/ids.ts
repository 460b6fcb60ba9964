// Session ids: 256 random bits, base64url. The store checks this exact shape before an
// id becomes part of a file name, so a cookie can never name a path of its own.
import { randomBytes } from "node:crypto";

const ID_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function generateSessionId(): string {
  return randomBytes(ID_BYTES).toString("base64url");
}

export function isSessionId(value: unknown): value is string {
  return typeof value === "string" && ID_PATTERN.test(value);
}

/** What we show of an id to people: enough to tell sessions apart, too little to use. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
