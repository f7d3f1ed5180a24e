import { expect } from "chai";
import { ConfigError } from "../../src/config.js";
import { readTracingSettings } from "../../src/tracing.js";

describe("tracing settings (OTEL_*)", () => {
  it("exports nothing by default and names the service after itself", () => {
    expect(readTracingSettings({}, "payment")).to.deep.equal({ serviceName: "payment", exporter: "none", otlpEndpoint: undefined });
  });

  it("takes the standard variables, the signal-specific endpoint first", () => {
    const env = { OTEL_TRACES_EXPORTER: "otlp", OTEL_SERVICE_NAME: "payment-eu", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" };
    expect(readTracingSettings(env, "payment")).to.deep.equal({ serviceName: "payment-eu", exporter: "otlp", otlpEndpoint: "http://collector:4318/v1/traces" });
    expect(readTracingSettings({ ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://other:4318/t" }, "payment").otlpEndpoint).to.equal("http://other:4318/t");
  });

  it("refuses an exporter it does not have", () => {
    expect(() => readTracingSettings({ OTEL_TRACES_EXPORTER: "zipkin" }, "payment")).to.throw(ConfigError, /none, console or otlp/);
  });
});
