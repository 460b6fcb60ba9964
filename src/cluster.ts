// WEB_CONCURRENCY > 1: the primary process, which serves nothing itself. It starts that
// many workers on one port (`node:cluster` hands each new connection to the next worker),
// replaces one that dies, and on SIGTERM or SIGINT has every worker finish its requests in
// flight before it exits: what gunicorn's `-w` does for a Flask app.
import cluster, { type Worker } from "node:cluster";
import type { Config } from "./config";

/** A worker that dies before it listens, or this soon after, probably cannot start at all. */
const QUICK_DEATH_MS = 5_000;
/** That many quick deaths in a row, and the primary gives up instead of spinning. */
const QUICK_DEATHS_TO_GIVE_UP = 5;
/** The wait before replacing a quickly dead worker: doubled at each quick death in a row. */
const FIRST_RESTART_DELAY_MS = 250;
/** A worker that has not finished its requests by then is killed (its own limit is 10 s). */
const STOP_DEADLINE_MS = 15_000;

const say = (line: string) => console.log(`handstamp: ${line}`);

function howItEnded(code: number | null, signal: string | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

export function runPrimary(config: Config): void {
  /** Every worker not yet exited, with when it started listening (0: not yet). */
  const startedAt = new Map<Worker, number>();
  let quickDeaths = 0;
  let listening = false;
  let stopping = false;
  let exitCode = 0;
  const restarts = new Set<NodeJS.Timeout>();

  // The workers sign with the secrets this process read (a development secret included),
  // so that every one of them accepts the cookies the others set.
  const fork = () => {
    const worker = cluster.fork({ SESSION_SECRET: config.sessionSecrets.join(",") });
    startedAt.set(worker, 0);
  };

  let serving = 0;
  cluster.on("listening", function workerListening(worker, address) {
    say(`worker ${worker.process.pid} started`);
    startedAt.set(worker, Date.now());
    serving++;
    if (!listening && serving >= config.webConcurrency) {
      listening = true;
      say(
        `listening on http://${config.host}:${address.port} (${config.env}, ${config.sessionStore} sessions, ${config.webConcurrency} workers)`,
      );
    }
  });

  cluster.on("exit", function workerExited(worker, code, signal) {
    const pid = worker.process.pid;
    const listenedAt = startedAt.get(worker) ?? 0;
    const quick = listenedAt === 0 || Date.now() - listenedAt < QUICK_DEATH_MS;
    startedAt.delete(worker);
    if (stopping) {
      say(`worker ${pid} stopped (${howItEnded(code, signal)})`);
      // A worker still starting may end on the signal itself, before its handler is set: a
      // clean stop too. An error, or the deadline's SIGKILL, is not.
      if (code !== 0 && signal !== "SIGTERM" && signal !== "SIGINT") exitCode = 1;
      if (startedAt.size === 0) process.exit(exitCode);
      return;
    }
    console.error(`handstamp: worker ${pid} died (${howItEnded(code, signal)})`);
    quickDeaths = quick ? quickDeaths + 1 : 0;
    if (quickDeaths >= QUICK_DEATHS_TO_GIVE_UP) {
      console.error(
        `handstamp: giving up: ${quickDeaths} workers in a row died while starting or within ${QUICK_DEATH_MS / 1000} s of it (see their errors above)`,
      );
      exitCode = 1;
      stopAll();
      return;
    }
    const delay = quickDeaths === 0 ? 0 : FIRST_RESTART_DELAY_MS * 2 ** (quickDeaths - 1);
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (!stopping) fork();
    }, delay);
    restarts.add(timer);
  });

  function stopAll(): void {
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    const workers = [...startedAt.keys()];
    if (workers.length === 0) process.exit(exitCode);
    for (const worker of workers) worker.process.kill("SIGTERM");
    setTimeout(() => {
      for (const worker of workers) if (!worker.isDead()) worker.process.kill("SIGKILL");
    }, STOP_DEADLINE_MS).unref();
  }

  const onSignal = (signal: string) => {
    if (stopping) return;
    say(`${signal} received, stopping ${startedAt.size} workers`);
    stopAll();
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));

  for (let i = 0; i < config.webConcurrency; i++) fork();
}
