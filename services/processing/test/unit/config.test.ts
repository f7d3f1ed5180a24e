import { expect } from "chai";
import { ConfigError } from "@payments/common/config";
import { loadConfig } from "../../src/config.js";

describe("processing config", () => {
  it("trusts the development service keys on a developer machine", () => {
    const config = loadConfig({ DEV_KEYS_DIR: "/tmp/keys" });
    expect(config.serviceAuth).to.deep.equal({ trustedKeysJson: undefined, devKeysDir: "/tmp/keys" });
    expect(config.maxMessageBytes).to.equal(1024 * 1024);
  });

  it("refuses to start in production without PROCESSING_TRUSTED_KEYS", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).to.throw(ConfigError, /PROCESSING_TRUSTED_KEYS/);
    expect(loadConfig({ NODE_ENV: "production", PROCESSING_TRUSTED_KEYS: "{}" }).serviceAuth.trustedKeysJson).to.equal("{}");
  });
});
