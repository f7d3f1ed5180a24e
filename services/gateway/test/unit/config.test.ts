import { expect } from "chai";
import { ConfigError } from "@payments/common/config";
import { loadConfig } from "../../src/config.js";

describe("gateway config", () => {
  /** The smallest production settings that start (a staging system: the stub provider is allowed by name). */
  const production = {
    NODE_ENV: "production",
    SERVICE_TOKEN_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----",
    INTERNAL_ALLOW_INSECURE: "true",
    PROVIDER_ALLOW_STUB: "true",
  };

  it("works with no settings at all on a developer machine", () => {
    const config = loadConfig({});
    expect(config.consumerName).to.equal("gateway");
    expect(config.streamReplicas).to.equal(1);
    expect(config.provider.databaseUrl).to.equal(undefined);
    // Hundreds of payments in flight, so a provider answering in a second still keeps up;
    // a few dozen Settles, so they do not crowd Processing's pool.
    expect(config.concurrency).to.equal(256);
    expect(config.settleConcurrency).to.equal(32);
  });

  it("refuses a GATEWAY_SETTLE_CONCURRENCY that is not a positive integer", () => {
    expect(() => loadConfig({ GATEWAY_SETTLE_CONCURRENCY: "0" })).to.throw(ConfigError, /GATEWAY_SETTLE_CONCURRENCY/);
    expect(() => loadConfig({ GATEWAY_SETTLE_CONCURRENCY: "lots" })).to.throw(ConfigError, /GATEWAY_SETTLE_CONCURRENCY/);
  });

  it("starts in production with the smallest production settings", () => {
    expect(loadConfig(production).serviceKeys.production).to.equal(true);
  });

  it("refuses the stub provider in production unless PROVIDER_ALLOW_STUB says so", () => {
    expect(() => loadConfig({ ...production, PROVIDER_ALLOW_STUB: "" })).to.throw(ConfigError, /PROVIDER_ALLOW_STUB/);
    expect(() => loadConfig({ ...production, PROVIDER_ALLOW_STUB: "false" })).to.throw(ConfigError, /stub/);
  });

  it("refuses to start in production without a service token key", () => {
    expect(() => loadConfig({ ...production, SERVICE_TOKEN_PRIVATE_KEY: "" })).to.throw(ConfigError, /SERVICE_TOKEN_PRIVATE_KEY/);
  });

  it("refuses plaintext internal channels in production unless INTERNAL_ALLOW_INSECURE says the network protects them", () => {
    expect(() => loadConfig({ ...production, INTERNAL_ALLOW_INSECURE: "" })).to.throw(ConfigError, /INTERNAL_ALLOW_INSECURE/);
  });

  it("replicates the stream and the consumer as PAYMENT_STREAM_REPLICAS says", () => {
    expect(loadConfig({ PAYMENT_STREAM_REPLICAS: "3" }).streamReplicas).to.equal(3);
    expect(() => loadConfig({ PAYMENT_STREAM_REPLICAS: "x" })).to.throw(ConfigError, /PAYMENT_STREAM_REPLICAS/);
  });
});
