import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { parse } from "yaml";
import { repoRoot } from "@payments/common/paths";
import { loadConfig as loadGatewayConfig } from "../../services/gateway/src/config.js";
import { loadConfig as loadPaymentConfig } from "../../services/payment/src/config.js";
import { loadConfig as loadProcessingConfig } from "../../services/processing/src/config.js";

type Env = Record<string, string>;

interface ComposeService {
  build?: { args?: { SERVICE?: string } };
  environment?: Env;
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** A compose file as compose reads it: anchors and `<<` merge keys resolved. */
async function readCompose(file: string): Promise<ComposeFile> {
  return parse(await readFile(path.join(repoRoot, file), "utf8"), { merge: true }) as ComposeFile;
}

/** Each service's settings reader, which refuses what the service would refuse at start. */
const LOADERS = {
  payment: { load: (env: Env) => loadPaymentConfig(env), portVariable: "PAYMENT_PORT" },
  processing: { load: (env: Env) => loadProcessingConfig(env), portVariable: "PROCESSING_PORT" },
  gateway: { load: (env: Env) => loadGatewayConfig(env), portVariable: "GATEWAY_PORT" },
} as const;

// No Docker engine runs here: these checks keep the compose files honest about the services.
describe("docker-compose files", () => {
  it("run two replicas of each service, each with the health probe on its own port and healthy dependencies first", async () => {
    const compose = await readCompose("docker-compose.yml");
    for (const [name, { portVariable }] of Object.entries(LOADERS)) {
      const service = compose.services[name]!;
      expect(service.build?.args?.SERVICE, name).to.equal(name);
      expect(service.deploy?.replicas, name).to.equal(2);
      expect(service.healthcheck?.test, name).to.deep.equal(["CMD", "node", "scripts/dist/healthProbe.js", service.environment![portVariable]]);
      expect(Object.keys(service.depends_on ?? {}), name).to.not.be.empty;
      for (const [dependency, { condition }] of Object.entries(service.depends_on!)) {
        expect(compose.services, `${name} depends on ${dependency}`).to.have.property(dependency);
        expect(condition, `${name} on ${dependency}`).to.equal("service_healthy");
      }
    }
  });

  it("give each service settings it accepts at start, alone and with the NATS cluster", async () => {
    const compose = await readCompose("docker-compose.yml");
    const cluster = await readCompose("docker-compose.cluster.yml");
    for (const [name, { load }] of Object.entries(LOADERS)) {
      const env = compose.services[name]!.environment!;
      expect(() => load(env), name).to.not.throw();
      // Compose merges an override's environment into the base one.
      const clustered = { ...env, ...(cluster.services[name]?.environment ?? {}) };
      expect(() => load(clustered), `${name} with the cluster`).to.not.throw();
    }
    expect(LOADERS.gateway.load({ ...compose.services.gateway!.environment!, ...cluster.services.gateway!.environment! }).natsUrl.split(",")).to.have.length(3);
  });

  it("keep JetStream on disk with an fsync before every acknowledgement", async () => {
    for (const file of ["deploy/nats/nats.conf", "deploy/nats/cluster.conf"]) {
      const conf = await readFile(path.join(repoRoot, file), "utf8");
      expect(conf, file).to.match(/^\s*sync_interval:\s*always\s*$/m);
      expect(conf, file).to.match(/^\s*store_dir:\s*\/data\s*$/m);
    }
  });
});
