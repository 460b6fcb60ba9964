// GET /healthz: 200 when the session store (the folder, or Redis) and the database answer,
// 503 otherwise, saying which one failed.
// Mounted before the session layer: a probe never creates a session. A handler on its
// path rather than a Router of its own: a Router that matches nothing ends with a turn of
// the event loop (setImmediate), and every page request would pay it on its way past.
import type { RequestHandler } from "express";
import type { Database } from "../db";
import type { SessionStorage } from "../sessions/storage";

export function healthCheck(deps: { storage: SessionStorage; db: Database }): RequestHandler {
  return async function checkHealth(_req, res) {
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
  };
}
