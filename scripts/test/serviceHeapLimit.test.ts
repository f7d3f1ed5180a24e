import { expect } from "chai";
import { SERVICE_HEAP_FLAGS, withServiceHeapLimit } from "../lib/childProcess.js";

describe("the services' heap limits", () => {
  it("are added to NODE_OPTIONS, after what is there", () => {
    expect(withServiceHeapLimit({ NODE_OPTIONS: "--enable-source-maps" }).NODE_OPTIONS).to.equal(["--enable-source-maps", ...SERVICE_HEAP_FLAGS].join(" "));
    expect(withServiceHeapLimit({}).NODE_OPTIONS).to.equal(SERVICE_HEAP_FLAGS.join(" "));
  });

  it("leave a limit NODE_OPTIONS sets alone, in either spelling, and still add the other", () => {
    expect(withServiceHeapLimit({ NODE_OPTIONS: "--max_old_space_size=512" }).NODE_OPTIONS).to.equal("--max_old_space_size=512 --max-semi-space-size=16");
    expect(withServiceHeapLimit({ NODE_OPTIONS: "--max-semi-space-size=32" }).NODE_OPTIONS).to.equal("--max-semi-space-size=32 --max-old-space-size=256");
    const both = { NODE_OPTIONS: "--max-old-space-size=512 --max-semi-space-size=32" };
    expect(withServiceHeapLimit(both)).to.equal(both);
  });
});
