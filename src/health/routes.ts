// GET /healthz: 200 when the session store and the database answer, 503 otherwise.
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
    res.status(ok ? 200 : 503).json(ok ? { status: "ok" } : { status: "unavailable", store, database });
  });
  return router;
}
