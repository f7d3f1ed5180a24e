import { replaceAsyncResourceBind } from "@payments/common/asyncResourceBind";
import { createLogger } from "@payments/common/logger";
import { startMetricsServer } from "@payments/common/metrics";
import { startTracing } from "@payments/common/tracing";
import { exitOnSignals, exitOnStartFailure } from "@payments/common/shutdown";
import { keepPerCallTablesYoung } from "@payments/common/youngTables";
import { loadConfig } from "./config.js";
import { startProcessing } from "./app.js";

const log = createLogger("processing");
// Before any connection or call: calls then die young (see asyncResourceBind.ts, youngTables.ts).
replaceAsyncResourceBind();
keepPerCallTablesYoung();
try {
  const config = loadConfig();
  log.level = config.logLevel;
  const tracing = startTracing(config.observability.tracing);
  const metrics = await startMetricsServer({ host: config.host, port: config.observability.metricsPort, log });
  const app = await startProcessing(config, log);
  exitOnSignals(log, async () => {
    await app.stop();
    await metrics?.close();
    await tracing.shutdown();
  });
} catch (err) {
  exitOnStartFailure(log)(err);
}
