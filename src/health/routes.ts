// GET /healthz: 200 when the session store (the folder, or Redis), its locks and the
// database (SQLite or PostgreSQL) answer, 503 otherwise, saying which one failed.
// Mounted before the session layer: a probe never creates a session. A handler on its
// path rather than a Router of its own: a Router that matches nothing ends with a turn of
// the event loop (setImmediate), and every page request would pay it on its way past.
// A flood of probes costs at most one real check a second: probes that arrive while a
// check runs share it, and a healthy answer is reused for a second. A failed one is not:
// the next probe checks again, so a store that comes back is reported at once.
import type { RequestHandler } from "express";
import type { Database } from "../db";
import type { SessionStorage } from "../sessions/storage";

/** How long a healthy answer stands for the probes that follow it. */
export const HEALTHY_FOR_MS = 1_000;

type Status = "ok" | "unavailable";

interface Health {
  ok: boolean;
  store: Status;
  lock: Status;
  database: Status;
}

export interface HealthDeps {
  storage: SessionStorage;
  db: Database;
  now?: () => number;
}

export function healthCheck(deps: HealthDeps): RequestHandler {
  const now = deps.now ?? Date.now;
  let last: { startedAt: number; health: Promise<Health>; ok?: boolean } | undefined;

  function currentHealth(): Promise<Health> {
    const at = now();
    const running = last !== undefined && last.ok === undefined;
    if (last && (running || (last.ok && at - last.startedAt < HEALTHY_FOR_MS))) return last.health;
    const check = { startedAt: at, health: checkAll(deps), ok: undefined as boolean | undefined };
    void check.health.then((health) => (check.ok = health.ok));
    last = check;
    return check.health;
  }

  return async function checkHealth(_req, res) {
    const { ok, store, lock, database } = await currentHealth();
    res.set("Cache-Control", "no-store");
    // The store is named: with Redis, this is the check that Redis answers.
    res.status(ok ? 200 : 503).json({
      status: ok ? "ok" : "unavailable",
      sessionStore: deps.storage.kind,
      store,
      lock,
      database,
      databaseEngine: deps.db.engine,
    });
  };
}

const statusOf = (check: Promise<unknown>): Promise<Status> =>
  check.then(
    () => "ok",
    () => "unavailable",
  );

/** One real check of each; never rejects. */
async function checkAll({ storage, db }: HealthDeps): Promise<Health> {
  const [store, database] = await Promise.all([statusOf(storage.check()), statusOf(db.check())]);
  // The locks live where the sessions do (the folder's .locks, the same Redis): the
  // store's check reaches them too.
  const lock = store;
  return { ok: store === "ok" && database === "ok", store, lock, database };
}
