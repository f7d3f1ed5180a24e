import { createLogger } from "@payments/common/logger";
import { exitOnSignals, exitOnStartFailure } from "@payments/common/shutdown";
import { loadConfig } from "./config.js";
import { startProcessing } from "./app.js";

const log = createLogger("processing");
try {
  const config = loadConfig();
  log.level = config.logLevel;
  const app = await startProcessing(config, log);
  exitOnSignals(log, () => app.stop());
} catch (err) {
  exitOnStartFailure(log)(err);
}
