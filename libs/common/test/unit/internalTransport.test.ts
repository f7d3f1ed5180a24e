import { expect } from "chai";
import { ConfigError } from "../../src/config.js";
import { internalChannelOptions, readInternalAllowInsecure } from "../../src/internalTransport.js";

describe("internal transport", () => {
  it("spreads calls round-robin when the target can resolve to several replicas", () => {
    const options: Record<string, unknown> = internalChannelOptions("dns:///processing:50052", { "grpc.max_reconnect_backoff_ms": 2000 });
    expect(JSON.parse(options["grpc.service_config"] as string)).to.deep.equal({ loadBalancingConfig: [{ round_robin: {} }] });
    expect(options["grpc.max_reconnect_backoff_ms"]).to.equal(2000);
    expect(internalChannelOptions("ipv4:127.0.0.1:1,127.0.0.1:2", {})).to.have.property("grpc.service_config");
  });

  it("leaves a plain host:port target on grpc-js's default policy", () => {
    expect(internalChannelOptions("127.0.0.1:50052", {})).to.not.have.property("grpc.service_config");
    expect(internalChannelOptions("processing:50052", {})).to.not.have.property("grpc.service_config");
  });

  it("turns channelz off unless told otherwise", () => {
    expect(internalChannelOptions("127.0.0.1:50052", {})).to.deep.equal({ "grpc.enable_channelz": 0 });
    expect(internalChannelOptions("dns:///processing:50052", {})).to.have.property("grpc.enable_channelz", 0);
    expect(internalChannelOptions("127.0.0.1:50052", { "grpc.enable_channelz": 1 })).to.have.property("grpc.enable_channelz", 1);
  });

  it("allows plaintext outside production and in production only when told so", () => {
    expect(readInternalAllowInsecure({})).to.equal(true);
    expect(() => readInternalAllowInsecure({ NODE_ENV: "production" })).to.throw(ConfigError, /INTERNAL_ALLOW_INSECURE/);
    expect(readInternalAllowInsecure({ NODE_ENV: "production", INTERNAL_ALLOW_INSECURE: "true" })).to.equal(true);
  });
});
