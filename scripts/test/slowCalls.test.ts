import { expect } from "chai";
import { slowCalls } from "../bench/slowCalls.js";

describe("benchmark: where a run's slow calls fell", () => {
  it("counts the calls over the objective and the most of them within one second", () => {
    // Due every 10 ms for 5 s; a stall makes the calls due between 2.0 and 2.3 s slow, and two others are slow alone.
    const due = Array.from({ length: 500 }, (_, i) => i * 10);
    const latency = due.map((t) => (t >= 2000 && t < 2300 ? 80 : t === 500 || t === 4500 ? 25 : 3));
    expect(slowCalls(due, latency, 20)).to.deep.equal({ overMs: 20, count: 32, mostInOneSecond: 30, atS: 2 });
  });

  it("treats a call at the objective as not slow, and a run without slow calls as zero", () => {
    expect(slowCalls([0, 10], [20, 5], 20)).to.deep.equal({ overMs: 20, count: 0, mostInOneSecond: 0, atS: 0 });
  });

  it("does not mind the order the calls finished in", () => {
    expect(slowCalls([900, 100, 1200], [30, 30, 30], 20)).to.include({ count: 3, mostInOneSecond: 2, atS: 0.1 });
  });
});
