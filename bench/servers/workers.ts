// Runs a bench server (BENCH_SCRIPT) in BENCH_WORKERS processes on one port with node:cluster,
// as handstamp's WEB_CONCURRENCY does (src/cluster.ts), so that a stand-in session layer
// (leanLayer.ts) can be measured as deployed on two cores. Bench only: a worker that dies
// ends the run (the bench then reports the contender's errors), it is not restarted.
import cluster from "node:cluster";

const script = process.env.BENCH_SCRIPT;
if (!script) throw new Error("BENCH_SCRIPT names the server to run in the workers");

if (cluster.isPrimary) {
  const count = Number(process.env.BENCH_WORKERS ?? 2);
  let listening = false;
  for (let i = 0; i < count; i++) {
    // Each worker says where it listens; every worker listens on the same port.
    cluster.fork().on("message", (line: unknown) => {
      if (listening || typeof line !== "string") return;
      listening = true;
      console.log(line);
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.error(`bench worker ${worker.process.pid} died (${signal ?? code})`);
    process.exit(1);
  });
  let stopping = false;
  process.on("SIGTERM", () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    setTimeout(() => process.exit(0), 1_000).unref();
    cluster.on("exit", () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  });
} else {
  // The server's "listening on" line goes to the primary, which prints the first one.
  const print = console.log;
  console.log = (...args: unknown[]) => {
    const line = args.join(" ");
    if (line.startsWith("listening on ")) process.send!(line);
    else print(...args);
  };
  require(script);
}
