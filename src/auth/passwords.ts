// Password hashing with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane),
// behind a small interface so tests can count the hashes the routes make (the real ones).
import argon2 from "argon2";

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface Passwords {
  hash(password: string): Promise<string>;
  /** False for a wrong password, and for no hash at all (unknown user), in the same time. */
  verify(hash: string | undefined, password: string): Promise<boolean>;
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. With no hash (unknown user) it checks
 * against a dummy one and answers false, so both cases take the same time.
 */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  if (hash === undefined) {
    dummyHash ??= hashPassword("not the password of anyone");
    await argon2.verify(await dummyHash, password);
    return false;
  }
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a malformed stored hash is a failed log-in, not a crash
  }
}

export const argon2Passwords: Passwords = { hash: hashPassword, verify: verifyPassword };
