import { expect } from "chai";
import { gcPauseShare, readGcSeconds } from "../bench/gcTime.js";

/** A /metrics excerpt as prom-client writes it. */
const metrics = (minor: number, major: number, incremental: number) =>
  [
    `nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} 10`,
    `nodejs_gc_duration_seconds_sum{kind="minor"} ${minor}`,
    `nodejs_gc_duration_seconds_count{kind="minor"} 10`,
    `nodejs_gc_duration_seconds_sum{kind="major"} ${major}`,
    `nodejs_gc_duration_seconds_sum{kind="incremental"} ${incremental}`,
    `nodejs_gc_duration_seconds_sum{kind="weakcb"} 5`,
  ].join("\n");

describe("benchmark: time the services spent in garbage collection", () => {
  it("counts scavenges as young and major plus incremental marking as full collections", () => {
    expect(readGcSeconds(metrics(0.5, 0.25, 0.125))).to.deep.equal({ young: 0.5, full: 0.375 });
  });

  it("gives each service's share of the run's wall time", () => {
    const before = new Map([["payment", readGcSeconds(metrics(1, 1, 0))]]);
    const after = new Map([
      ["payment", readGcSeconds(metrics(1.5, 1.2, 0.05))],
      ["gateway", readGcSeconds(metrics(9, 9, 9))],
    ]);
    const share = gcPauseShare(before, after, 10_000);
    expect(share.payment!.young).to.be.closeTo(0.05, 1e-9);
    expect(share.payment!.full).to.be.closeTo(0.025, 1e-9);
    expect(share, "a service not read before the run is left out").to.not.have.property("gateway");
  });
});
