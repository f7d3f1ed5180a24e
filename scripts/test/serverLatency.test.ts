import { expect } from "chai";
import { ServerLatencyProbe } from "../bench/serverLatency.js";

/** A /metrics excerpt: Hold answered `counts` times, cumulative per bucket bound (seconds). */
function processingMetrics(counts: Record<string, number>, okOnly = false): string {
  const lines = Object.entries(counts).map(
    ([le, n]) => `grpc_server_handling_seconds_bucket{le="${le}",grpc_service="payments.processing.v1.ProcessingService",grpc_method="Hold",grpc_code="OK"} ${n}`,
  );
  // A failed call took its time too: counted with the OK ones.
  if (!okOnly) lines.push(`grpc_server_handling_seconds_bucket{le="0.005",grpc_service="payments.processing.v1.ProcessingService",grpc_method="Hold",grpc_code="UNAVAILABLE"} 0`);
  lines.push(`grpc_server_handling_seconds_bucket{le="0.005",grpc_service="payments.processing.v1.ProcessingService",grpc_method="Settle",grpc_code="OK"} 500`);
  return lines.join("\n");
}

describe("benchmark: the services' own timing from their histograms", () => {
  it("takes the percentiles of the calls between two readings, linear within a bucket", () => {
    const before = ServerLatencyProbe.read(new Map([["processing", processingMetrics({ "0.001": 10, "0.005": 10, "0.01": 10, "+Inf": 10 })]]));
    // 100 more calls: 50 under 1 ms, 40 in 1-5 ms, 10 in 5-10 ms.
    const after = ServerLatencyProbe.read(new Map([["processing", processingMetrics({ "0.001": 60, "0.005": 100, "0.01": 110, "+Inf": 110 })]]));
    const hold = ServerLatencyProbe.between(before, after).Hold!;
    expect(hold.count).to.equal(100);
    expect(hold.p50).to.be.closeTo(1, 1e-9);
    expect(hold.p99).to.be.closeTo(9.5, 1e-9);
  });

  it("leaves out an RPC without calls in the run, and a service it could not read", () => {
    const same = ServerLatencyProbe.read(new Map([["processing", processingMetrics({ "0.001": 5, "+Inf": 5 }, true)]]));
    const latency = ServerLatencyProbe.between(same, same);
    expect(latency).to.not.have.property("Hold");
    expect(latency).to.not.have.property("CreatePayment");
  });

  it("reports the last finite bound for calls slower than every bucket", () => {
    const before = ServerLatencyProbe.read(new Map([["processing", processingMetrics({ "0.001": 0, "30": 0, "+Inf": 0 })]]));
    const after = ServerLatencyProbe.read(new Map([["processing", processingMetrics({ "0.001": 0, "30": 0, "+Inf": 4 })]]));
    expect(ServerLatencyProbe.between(before, after).Hold!.p99).to.equal(30_000);
  });
});
