// Preloaded into each service by `npm run bench -- --profile` (NODE_OPTIONS=--import …):
// Node refuses --cpu-prof in NODE_OPTIONS, and the services are started by the shared
// test helper, whose command line the benchmark does not change. Writes a V8 CPU profile
// (open it in Chrome DevTools or speedscope) to BENCH_CPU_PROF_DIR when the process exits.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  const service = /services\/([^/]+)\//.exec(process.argv.join(" "))?.[1] ?? "node";
  process.on("exit", () => {
    // An in-thread session answers synchronously, so this completes inside the exit handler.
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(path.join(dir, `${service}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
