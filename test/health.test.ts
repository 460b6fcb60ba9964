// /healthz under a flood of probes: one real check a second, on a clock the test moves.
import { mkdirSync, rmSync } from "node:fs";
import express from "express";
import { pino } from "pino";
import request from "supertest";
import { connectDatabase } from "../src/db";
import { healthCheck, HEALTHY_FOR_MS } from "../src/health/routes";
import { createSessionStorage } from "../src/sessions/storage";
import { tempDir, testConfig } from "./helpers";

/** /healthz on the real file store and database, with a clock the test moves. */
function probed() {
  const config = testConfig(tempDir(), { SESSION_STORE: "file" });
  const storage = createSessionStorage(config, { logger: pino({ level: "silent" }) });
  const db = connectDatabase(config, { onError: () => undefined });
  const clock = { now: Date.now() };
  const app = express().get("/healthz", healthCheck({ storage, db, now: () => clock.now }));
  return {
    config,
    clock,
    probe: async () => (await request(app).get("/healthz")).status,
    close: async () => {
      await storage.close();
      await db.close();
    },
  };
}

describe("/healthz", () => {
  test("a healthy answer stands for a second: a store that breaks is reported from the next one", async () => {
    const { config, clock, probe, close } = probed();
    try {
      expect(await probe()).toBe(200);
      rmSync(config.sessionDir, { recursive: true });
      expect(await probe()).toBe(200); // the same second: the check is shared, not run again
      clock.now += HEALTHY_FOR_MS;
      expect(await probe()).toBe(503);
    } finally {
      await close();
    }
  });

  test("a failed answer is not reused: a store that comes back is reported at once", async () => {
    const { config, probe, close } = probed();
    try {
      rmSync(config.sessionDir, { recursive: true });
      expect(await probe()).toBe(503);
      mkdirSync(config.sessionDir, { mode: 0o700 });
      expect(await probe()).toBe(200);
    } finally {
      await close();
    }
  });
});
