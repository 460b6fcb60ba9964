// GET /healthz: 200 when the session store (the folder, or Redis) and the database answer,
// 503 otherwise, saying which one failed.
// Mounted before the session layer: a probe never creates a session.
import { Router } from "express";
import type { Database } from "../db";
import type { SessionStorage } from "../sessions/storage";

export function healthRouter(deps: { storage: SessionStorage; db: Database }): Router {
  const router = Router();
  router.get("/healthz", async function checkHealth(_req, res) {
    const [store, database] = await Promise.all([
      deps.storage.check().then(
        () => "ok",
        () => "unavailable",
      ),
      Promise.resolve()
        .then(() => deps.db.prepare("SELECT 1").get())
        .then(
          () => "ok",
          () => "unavailable",
        ),
    ]);
    const ok = store === "ok" && database === "ok";
    res.set("Cache-Control", "no-store");
    // The store is named: with Redis, this is the check that Redis answers.
    res.status(ok ? 200 : 503).json({
      status: ok ? "ok" : "unavailable",
      sessionStore: deps.storage.kind,
      store,
      database,
    });
  });
  return router;
}
