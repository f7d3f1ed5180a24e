import { AsyncResource, executionAsyncId } from "node:async_hooks";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { replaceAsyncResourceBind } from "../../src/asyncResourceBind.js";

const survivalProbe = fileURLToPath(new URL("../fixtures/boundFunctionSurvival.ts", import.meta.url));

/** Young-generation bytes left after a scavenge, from a fresh process (see the fixture). */
function survivingYoungBytes(replaced: boolean): number {
  const args = ["--expose-gc", "--import", "tsx", "--conditions=source", survivalProbe, ...(replaced ? ["replaced"] : [])];
  return Number(execFileSync(process.execPath, args, { encoding: "utf8" }).trim());
}

describe("AsyncResource.prototype.bind without the deprecated accessor", () => {
  const nodeBind = AsyncResource.prototype.bind;
  before(() => replaceAsyncResourceBind());
  after(() => {
    AsyncResource.prototype.bind = nodeBind;
  });

  it("runs the function in the resource's async scope with the caller's this and arguments", () => {
    const resource = new AsyncResource("test");
    const receiver = { name: "receiver" };
    const bound = resource.bind(function (this: unknown, a: number, b: number) {
      return { scope: executionAsyncId(), self: this, sum: a + b };
    });
    expect(bound.call(receiver, 2, 3)).to.deep.equal({ scope: resource.asyncId(), self: receiver, sum: 5 });
    expect(bound.length).to.equal(2);
    expect((bound as unknown as { asyncResource: unknown }).asyncResource).to.equal(resource);
  });

  it("binds this when given one, as AsyncResource.bind(fn, type, thisArg) does", () => {
    const receiver = { name: "receiver" };
    const bound = AsyncResource.bind(function (this: unknown) {
      return this;
    }, "test", receiver);
    expect(bound.call({ other: true })).to.equal(receiver);
  });

  it("refuses what is not a function, with Node's error code", () => {
    expect(() => new AsyncResource("test").bind(42 as unknown as () => void))
      .to.throw(TypeError)
      .with.property("code", "ERR_INVALID_ARG_TYPE");
  });

  it("lets a scavenge free what bound functions point at (Node's own bind keeps it until a full collection)", function () {
    this.timeout(20_000);
    // 300 functions bound to ~1.5 MB of garbage. If Node's own bind ever stops keeping it,
    // the replacement has no reason left: remove it.
    expect(survivingYoungBytes(false), "Node's bind").to.be.above(1_000_000);
    expect(survivingYoungBytes(true), "the replacement").to.be.below(200_000);
  });
});
