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

  /** The smallest production settings that start. */
  const production = {
    NODE_ENV: "production",
    JWT_JWKS_URL: "https://id.example/jwks.json",
    SERVICE_TOKEN_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----",
    PAYMENT_ALLOW_INSECURE: "true",
    INTERNAL_ALLOW_INSECURE: "true",
  };

  it("refuses to start in production without a JWKS URL or public key", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).to.throw(ConfigError, /JWT_JWKS_URL or JWT_PUBLIC_KEY/);
    expect(loadConfig(production).production).to.equal(true);
  });

  it("refuses to start in production without a service token key", () => {
    expect(() => loadConfig({ ...production, SERVICE_TOKEN_PRIVATE_KEY: "" })).to.throw(ConfigError, /SERVICE_TOKEN_PRIVATE_KEY/);
  });

  it("refuses plaintext in production unless told TLS ends at the ingress", () => {
    expect(() => loadConfig({ ...production, PAYMENT_ALLOW_INSECURE: "" })).to.throw(ConfigError, /PAYMENT_TLS_CERT_FILE/);
    const tls = loadConfig({ ...production, PAYMENT_ALLOW_INSECURE: "", PAYMENT_TLS_CERT_FILE: "/c.pem", PAYMENT_TLS_KEY_FILE: "/k.pem" });
    expect(tls.tls).to.deep.equal({ certFile: "/c.pem", keyFile: "/k.pem" });
    expect(() => loadConfig({ PAYMENT_TLS_CERT_FILE: "/c.pem" })).to.throw(ConfigError, /both/);
  });

  it("refuses the plaintext channel to Processing in production unless INTERNAL_ALLOW_INSECURE says the network protects it", () => {
    expect(() => loadConfig({ ...production, INTERNAL_ALLOW_INSECURE: "" })).to.throw(ConfigError, /INTERNAL_ALLOW_INSECURE/);
    expect(() => loadConfig({ ...production, INTERNAL_ALLOW_INSECURE: "false" })).to.throw(ConfigError, /INTERNAL_ALLOW_INSECURE/);
    expect(loadConfig({}).processingAddr).to.equal("127.0.0.1:50052");
  });

  it("reads the stream's replicas for a NATS cluster", () => {
    expect(loadConfig({}).streamReplicas).to.equal(1);
    expect(loadConfig({ PAYMENT_STREAM_REPLICAS: "3" }).streamReplicas).to.equal(3);
    expect(() => loadConfig({ PAYMENT_STREAM_REPLICAS: "0" })).to.throw(ConfigError, /PAYMENT_STREAM_REPLICAS/);
  });

  it("takes a smaller message limit on the public port by default", () => {
    expect(loadConfig({}).maxMessageBytes).to.equal(64 * 1024);
    expect(loadConfig({ GRPC_MAX_MESSAGE_BYTES: "2048" }).maxMessageBytes).to.equal(2048);
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
