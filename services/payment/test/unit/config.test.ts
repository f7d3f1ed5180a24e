import { expect } from "chai";
import { ConfigError } from "@payments/common/config";
import { loadConfig } from "../../src/config.js";

describe("payment config", () => {
  it("works with no settings at all on a developer machine", () => {
    const config = loadConfig({});
    expect(config.port).to.equal(50051);
    expect(config.stream).to.equal("payment2");
    expect(config.auth.algorithms).to.deep.equal(["ES256", "RS256", "EdDSA"]);
    expect(config.auth.jwksUrl).to.equal(undefined);
  });

  it("refuses to start in production without a JWKS URL or public key", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).to.throw(ConfigError, /JWT_JWKS_URL or JWT_PUBLIC_KEY/);
    expect(loadConfig({ NODE_ENV: "production", JWT_JWKS_URL: "https://id.example/jwks.json" }).production).to.equal(true);
  });

  it("refuses alg none and symmetric algorithms in the allow-list", () => {
    expect(() => loadConfig({ JWT_ALGORITHMS: "ES256,none" })).to.throw(ConfigError, /"none" is not allowed/);
    expect(() => loadConfig({ JWT_ALGORITHMS: "HS256" })).to.throw(ConfigError, /"HS256" is not allowed/);
  });

  it("unescapes a one-line PEM key", () => {
    expect(loadConfig({ JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----" }).auth.publicKeyPem).to.equal(
      "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----",
    );
  });
});
