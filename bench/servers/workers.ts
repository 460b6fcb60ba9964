// Runs a bench server (BENCH_SCRIPT) in BENCH_WORKERS processes on one port with node:cluster,
// as handstamp's WEB_CONCURRENCY does (src/cluster.ts), so that a stand-in session layer
// (leanLayer.ts) can be measured as deployed on two cores. Bench only: a worker that dies
// ends the run (the bench then reports the contender's errors), it is not restarted.
import cluster from "node:cluster";

const script = process.env.BENCH_SCRIPT;
if (!script) throw new Error("BENCH_SCRIPT names the server to run in the workers");

if (cluster.isPrimary) {
  const count = Number(process.env.BENCH_WORKERS ?? 2);
  if (!Number.isInteger(count) || count < 1) throw new Error("BENCH_WORKERS is a number of workers");
  let stopping = false;
  let listening = 0;
  let exited = 0;
  // The bench starts once every worker listens (all on the same port).
  cluster.on("listening", (_worker, address) => {
    if (++listening === count) console.log(`listening on http://127.0.0.1:${address.port}`);
  });
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`bench worker ${worker.process.pid} died (${signal ?? code})`);
      process.exit(1);
    }
    if (++exited === count) process.exit(0);
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    // A worker still closing after 5 s would go on using the port and the CPU: it is killed.
    setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
      process.exit(1);
    }, 5_000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  for (let i = 0; i < count; i++) cluster.fork();
} else {
  // Each worker's own "listening on" line is left out: the primary says it once for all.
  const print = console.log;
  console.log = (...args: unknown[]) => {
    if (!String(args[0]).startsWith("listening on ")) print(...args);
  };
  require(script);
}
