import { expect } from "chai";
import { withoutStackCapture } from "../../src/grpc/client.js";

describe("withoutStackCapture", () => {
  it("creates errors without stack frames inside, and with them again afterwards", () => {
    const inside = withoutStackCapture(() => new Error("inside"));
    const after = new Error("after");
    expect(inside.stack).to.equal("Error: inside");
    expect(after.stack).to.match(/\n\s+at /);
  });

  it("restores the stack trace limit when the function throws", () => {
    const limit = Error.stackTraceLimit;
    expect(() =>
      withoutStackCapture(() => {
        throw new Error("boom");
      }),
    ).to.throw("boom");
    expect(Error.stackTraceLimit).to.equal(limit);
  });

  it("returns what the function returns", () => {
    expect(withoutStackCapture(() => 42)).to.equal(42);
  });
});
