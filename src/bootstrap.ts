// What every command does first, the server and `npm run sessions` alike: read `.env`
// into the environment it is given, then the configuration, once. Whatever goes wrong
// comes back as an error whose message is the one line to print.
import dotenv from "dotenv";
import { ConfigError, parseConfig, type Config } from "./config";
import { loadOrCreateDevSecret } from "./devSecret";

export interface LoadOptions {
  /**
   * The server signs cookies: without SESSION_SECRET outside production it keeps a
   * development secret in the data folder. A command that signs nothing asks for no
   * secret, so it neither needs one in production nor creates one elsewhere.
   */
  needsSecret: boolean;
  /** Where the development secret's notice goes. */
  say?: (line: string) => void;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env, { needsSecret, say = console.log }: LoadOptions): Config {
  try {
    // Variables already set win over the file, as in most .env tooling.
    dotenv.config({ quiet: true, processEnv: env as Record<string, string> });
    return parseConfig(env, {
      needsSecret,
      devSecret: needsSecret ? (dataDir) => loadOrCreateDevSecret(dataDir, say) : undefined,
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new Error(`cannot read the configuration: ${(err as Error).message}`, { cause: err });
  }
}
