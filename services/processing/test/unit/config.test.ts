import { expect } from "chai";
import { ConfigError } from "@payments/common/config";
import { loadConfig } from "../../src/config.js";

describe("processing config", () => {
  it("trusts the development service keys on a developer machine", () => {
    const config = loadConfig({ DEV_KEYS_DIR: "/tmp/keys" });
    expect(config.serviceAuth).to.deep.equal({ trustedKeysJson: undefined, devKeysDir: "/tmp/keys" });
    expect(config.maxMessageBytes).to.equal(1024 * 1024);
  });

  /** The smallest production settings that start. */
  const production = { NODE_ENV: "production", PROCESSING_TRUSTED_KEYS: "{}", INTERNAL_ALLOW_INSECURE: "true" };

  it("refuses to start in production without PROCESSING_TRUSTED_KEYS", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).to.throw(ConfigError, /PROCESSING_TRUSTED_KEYS/);
    expect(loadConfig(production).serviceAuth.trustedKeysJson).to.equal("{}");
  });

  it("refuses the demo seed in production and does not seed there by default", () => {
    expect(() => loadConfig({ ...production, SEED_DEMO_DATA: "true" })).to.throw(ConfigError, /SEED_DEMO_DATA/);
    expect(loadConfig(production).seedDemoData).to.equal(false);
    expect(loadConfig({}).seedDemoData).to.equal(true);
  });

  it("refuses a plaintext internal port in production unless INTERNAL_ALLOW_INSECURE says the network protects it", () => {
    expect(() => loadConfig({ ...production, INTERNAL_ALLOW_INSECURE: "" })).to.throw(ConfigError, /INTERNAL_ALLOW_INSECURE/);
    expect(loadConfig({ INTERNAL_ALLOW_INSECURE: "false" }).port).to.equal(50052);
  });
});
