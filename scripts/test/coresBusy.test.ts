import { expect } from "chai";
import { coresBusy } from "../bench/report.js";

describe("coresBusy", () => {
  it("is the CPU of a run's payments over its load window and drain, in cores", () => {
    // 9,000 payments at 2.5 CPU ms each in 15 s of load: 1.5 cores.
    expect(coresBusy(2.5, { accepted: 9_000, durationS: 15, drainMs: 0 })).to.be.closeTo(1.5, 1e-9);
    // The drain lengthens the span the same CPU was spent over.
    expect(coresBusy(2.5, { accepted: 9_000, durationS: 15, drainMs: 3_000 })).to.be.closeTo(1.25, 1e-9);
  });
});
