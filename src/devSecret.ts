// Outside production, a missing SESSION_SECRET is replaced by one generated once and kept
// in the data folder (the file 0600, the folder 0700 when it makes it), so a restart keeps everybody's sessions.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export const DEV_SECRET_FILE = "session-secret";

export function newSecret(): string {
  return randomBytes(32).toString("hex"); // as the Flask course's secrets.token_hex()
}

export function loadOrCreateDevSecret(dataDir: string, say: (line: string) => void): string {
  const file = path.join(dataDir, DEV_SECRET_FILE);
  const shown = path.relative(process.cwd(), file) || file;
  try {
    const secret = readFileSync(file, "utf8").trim();
    if (secret) {
      say(`handstamp: SESSION_SECRET is not set; using the development secret in ${shown}`);
      return secret;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = newSecret();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  say(`handstamp: SESSION_SECRET is not set; created a development secret in ${shown}`);
  return secret;
}
