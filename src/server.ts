// The one place that reads the environment, listens and shuts down. With
// WEB_CONCURRENCY > 1 this process is the cluster's primary (`cluster.ts`), and each of
// its workers runs this file again to serve.
import cluster from "node:cluster";
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";
import { createApp, type Handstamp } from "./app";
import { loadConfig } from "./bootstrap";
import { runPrimary } from "./cluster";
import type { Config } from "./config";
import { isDatabaseOutage } from "./db";
import { secureSessionDir } from "./sessions/storage";

function fail(message: string): never {
  console.error(`handstamp: ${message}`);
  process.exit(1);
}

function main(): void {
  let config: Config;
  try {
    config = loadConfig(process.env, { needsSecret: true });
  } catch (err) {
    fail((err as Error).message);
  }
  if (cluster.isWorker) return serve(config, { clustered: true });
  if (config.webConcurrency === 1) return serve(config, { clustered: false });
  // The folder's owner and modes are checked once, here, before any worker uses it.
  if (config.sessionStore === "file") {
    try {
      mkdirSync(config.sessionDir, { recursive: true, mode: 0o700 });
      checkSessionDir(config);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  runPrimary(config);
}

function checkSessionDir(config: Config): void {
  const notice = secureSessionDir(config.sessionDir);
  if (notice) console.log(`handstamp: ${notice}`);
}

/** Builds the app and listens: the whole server, or one cluster worker. */
function serve(config: Config, { clustered }: { clustered: boolean }): void {
  let handstamp;
  try {
    handstamp = createApp(config);
  } catch (err) {
    fail(`cannot start: ${(err as Error).message}`);
  }
  const { app, close, storage, db } = handstamp;
  if (storage.kind === "file" && !clustered) {
    try {
      checkSessionDir(config);
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
  void Promise.all([storeChecked, databaseReady]).then(() => listen(app, config, close, clustered));
}

function listen(app: Handstamp["app"], config: Config, close: () => Promise<void>, clustered: boolean): void {
  const server: Server = app.listen(config.port, config.host, () => {
    // A worker stays quiet: the primary says once where the site is, and which workers serve it.
    if (clustered) return;
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
    const who = clustered ? `handstamp: worker ${process.pid}:` : "handstamp:";
    console.log(`${who} ${signal} received, finishing requests in flight`);
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
