import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { pino } from "pino";
import { startHealthChecks, type DependencyCheck } from "../../src/healthChecks.js";

const quiet = pino({ level: "silent" });

describe("dependency health checks", () => {
  it("reports NOT_SERVING while a check fails and SERVING again once it passes", async () => {
    let up = true;
    const reported: boolean[] = [];
    const database: DependencyCheck = {
      name: "database",
      check: async () => {
        if (!up) throw new Error("connection refused");
      },
    };
    const checks = startHealthChecks([database], { intervalMs: 20, timeoutMs: 100 }, (serving) => reported.push(serving), quiet);
    try {
      expect(await checks.runOnce()).to.equal(true);
      up = false;
      expect(await checks.runOnce()).to.equal(false);
      expect(reported.at(-1)).to.equal(false);
      up = true;
      await sleep(60);
      expect(reported.at(-1)).to.equal(true);
    } finally {
      await checks.stop();
    }
  });

  it("counts a check that does not answer within the timeout as failed", async () => {
    const hanging: DependencyCheck = { name: "hanging", check: () => new Promise(() => undefined) };
    let last: boolean | undefined;
    const checks = startHealthChecks([hanging], { intervalMs: 10_000, timeoutMs: 30 }, (serving) => (last = serving), quiet);
    try {
      expect(await checks.runOnce()).to.equal(false);
      expect(last).to.equal(false);
    } finally {
      await checks.stop();
    }
  });

  it("stops reporting once stopped, so shutdown's NOT_SERVING is not overwritten", async () => {
    const reported: boolean[] = [];
    const checks = startHealthChecks([{ name: "ok", check: async () => undefined }], { intervalMs: 10, timeoutMs: 50 }, (s) => reported.push(s), quiet);
    await checks.stop();
    const count = reported.length;
    await sleep(50);
    expect(reported.length).to.equal(count);
  });
});
