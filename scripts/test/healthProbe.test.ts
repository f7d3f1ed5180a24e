import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { HealthImplementation } from "grpc-health-check";
import { repoRoot } from "@payments/common/paths";
import { checkHealth } from "@payments/common/grpc/healthCheck";
import { waitForHealthy } from "../lib/waitForHealth.js";

const run = promisify(execFile);
const probe = path.join(repoRoot, "scripts", "healthProbe.ts");

/** Runs the probe as the container would, returning its exit code. */
async function probeExitCode(port: number): Promise<number> {
  try {
    await run(process.execPath, ["--import", "tsx", "--conditions=source", probe, String(port)], { cwd: repoRoot });
    return 0;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

describe("gRPC health probe", function () {
  this.timeout(30_000);
  let server: grpc.Server;
  let health: HealthImplementation;
  let port: number;

  beforeEach(async () => {
    server = new grpc.Server();
    health = new HealthImplementation({ "": "SERVING" });
    health.addToServer(server);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
  });

  afterEach(() => server.forceShutdown());

  it("reports the status the server sets", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`)).to.equal("SERVING");
    health.setStatus("", "NOT_SERVING");
    expect(await checkHealth(`127.0.0.1:${port}`)).to.equal("NOT_SERVING");
  });

  it("exits 0 while the server is SERVING and 1 once it is NOT_SERVING", async () => {
    expect(await probeExitCode(port)).to.equal(0);
    health.setStatus("", "NOT_SERVING");
    expect(await probeExitCode(port)).to.equal(1);
  });

  it("exits 1 when nothing listens on the port", async () => {
    server.forceShutdown();
    expect(await probeExitCode(port)).to.equal(1);
  });

  it("waitForHealthy resolves once the server turns SERVING", async () => {
    health.setStatus("", "NOT_SERVING");
    setTimeout(() => health.setStatus("", "SERVING"), 300);
    const started = Date.now();
    await waitForHealthy(`127.0.0.1:${port}`, 5_000, { intervalMs: 50 });
    expect(Date.now() - started).to.be.at.least(250);
  });

  it("waitForHealthy gives up after its timeout with the last status", async () => {
    health.setStatus("", "NOT_SERVING");
    let error: Error | undefined;
    // Long enough for at least one answer even on a loaded machine; the point is the last status.
    await waitForHealthy(`127.0.0.1:${port}`, 3_000, { intervalMs: 50 }).catch((err: Error) => (error = err));
    expect(error?.message).to.match(/not healthy after 3000 ms \(last: NOT_SERVING\)/);
  });

  it("waitForHealthy stops with the caller's reason when its signal aborts", async () => {
    health.setStatus("", "NOT_SERVING");
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("processing exited during start")), 200);
    let error: Error | undefined;
    await waitForHealthy(`127.0.0.1:${port}`, 5_000, { intervalMs: 1_000, signal: abort.signal }).catch((err: Error) => (error = err));
    expect(error?.message).to.equal("processing exited during start");
  });
});
