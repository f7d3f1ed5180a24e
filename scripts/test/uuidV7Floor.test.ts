import { expect } from "chai";
import { v7 as uuidv7 } from "uuid";
import { uuidV7Floor } from "../bench/uuidV7Floor.js";

describe("uuidV7Floor", () => {
  it("sorts at or below every version-7 id made at or after its moment, and above those made before", () => {
    const now = Date.now();
    const floor = uuidV7Floor(now);
    expect(uuidv7({ msecs: now }) >= floor).to.equal(true);
    expect(uuidv7({ msecs: now + 1 }) >= floor).to.equal(true);
    expect(uuidv7({ msecs: now - 1 }) < floor).to.equal(true);
  });

  it("refuses what is not a 48-bit millisecond timestamp", () => {
    expect(() => uuidV7Floor(-1)).to.throw(RangeError);
    expect(() => uuidV7Floor(1.5)).to.throw(RangeError);
    expect(() => uuidV7Floor(2 ** 48)).to.throw(RangeError);
  });
});
