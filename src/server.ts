// The one place that reads the environment, listens and shuts down.
import type { Server } from "node:http";
import dotenv from "dotenv";
import { createApp, type Handstamp } from "./app";
import { ConfigError, parseConfig, type Config } from "./config";
import { isDatabaseOutage } from "./db";
import { loadOrCreateDevSecret } from "./devSecret";
import { secureSessionDir } from "./sessions/storage";

function fail(message: string): never {
  console.error(`handstamp: ${message}`);
  process.exit(1);
}

function main(): void {
  dotenv.config({ quiet: true });
  let config;
  try {
    config = parseConfig(process.env, {
      devSecret: (dataDir) => loadOrCreateDevSecret(dataDir, (line) => console.log(line)),
    });
  } catch (err) {
    fail(
      err instanceof ConfigError ? err.message : `cannot read the configuration: ${(err as Error).message}`,
    );
  }

  let handstamp;
  try {
    handstamp = createApp(config);
  } catch (err) {
    fail(`cannot start: ${(err as Error).message}`);
  }
  const { app, close, storage, db } = handstamp;
  if (storage.kind === "file") {
    try {
      const notice = secureSessionDir(config.sessionDir);
      if (notice) console.log(`handstamp: ${notice}`);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  const storeChecked = storage.check().catch((err: Error) => {
    if (storage.kind !== "redis") fail(`cannot store sessions in ${config.sessionDir}: ${err.message}`);
    // Redis may come up after us: start anyway, answer 503 until it does, reconnect alone.
    console.error(`handstamp: Redis is not reachable yet (${err.message}); sessions get 503 until it is`);
  });
  // PostgreSQL migrates before the first request; if it is not up yet, the same as Redis:
  // pages that need it get 503 until it is, and the first query then migrates.
  const databaseReady = db.ready().catch((err: Error) => {
    if (!isDatabaseOutage(err)) fail(`cannot migrate the database at ${db.where}: ${err.message}`);
    console.error(
      `handstamp: the database at ${db.where} is not reachable yet; log-in and accounts get 503 until it is`,
    );
  });
  void Promise.all([storeChecked, databaseReady]).then(() => listen(app, config, close));
}

function listen(app: Handstamp["app"], config: Config, close: () => Promise<void>): void {
  const server: Server = app.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    console.log(
      `handstamp: listening on http://${config.host}:${port} (${config.env}, ${config.sessionStore} sessions)`,
    );
  });
  server.on("error", (err) => fail(`cannot listen on ${config.host}:${config.port}: ${err.message}`));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`handstamp: ${signal} received, finishing requests in flight`);
    server.close(() => {
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 10_000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main();
