import { expect } from "chai";
import { backoffDelayMs } from "../../../src/domain/backoff.js";

describe("backoffDelayMs", () => {
  it("waits the base delay after the first attempt and doubles after each further one", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, 500, 30_000))).to.deep.equal([500, 1_000, 2_000, 4_000]);
  });

  it("never waits longer than the cap", () => {
    expect(backoffDelayMs(7, 500, 30_000)).to.equal(30_000);
    expect(backoffDelayMs(100, 500, 30_000)).to.equal(30_000);
    expect(backoffDelayMs(5_000, 500, 30_000)).to.equal(30_000);
  });

  it("treats attempts below 1 as the first", () => {
    expect(backoffDelayMs(0, 500, 30_000)).to.equal(500);
    expect(backoffDelayMs(-3, 500, 30_000)).to.equal(500);
  });
});
