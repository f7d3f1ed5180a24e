import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { ConfigError } from "@payments/common/config";
import {
  createServiceTokenSigner,
  createServiceTokenVerifier,
  loadOrCreateDevServiceKey,
  loadServiceSigningKey,
  parseTrustedKeys,
  readServiceKeySettings,
  signingKeyFromPem,
} from "@payments/common/auth/serviceTokens";

describe("service tokens", () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), "service-keys-"))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("gives every process starting at once the same development key", async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDevServiceKey(dir, "gateway")));
    expect(new Set(keys.map((k) => k.kid)).size).to.equal(1);
  });

  it("signs ES256 tokens for Processing with the key's thumbprint as kid, and reuses them until shortly before expiry", async () => {
    const key = await loadOrCreateDevServiceKey(dir, "payment");
    let now = 1_000_000;
    const signer = createServiceTokenSigner(key, { now: () => now });
    const first = await signer.token();
    expect(decodeProtectedHeader(first)).to.include({ alg: "ES256", kid: key.kid });
    expect(decodeJwt(first)).to.include({ iss: "payments-internal", aud: "processing", sub: "payment", exp: 1_000_060 });
    now += 30;
    expect(await signer.token()).to.equal(first);
    now += 15; // 15 s left: renewed
    expect(await signer.token()).to.not.equal(first);
  });

  it("verifies a trusted service's token and names the service", async () => {
    const key = await loadOrCreateDevServiceKey(dir, "gateway");
    const verifier = createServiceTokenVerifier([{ service: "gateway", publicKey: key.publicKey, kid: key.kid }]);
    expect(await verifier.verify(await createServiceTokenSigner(key).token())).to.deep.equal({ service: "gateway" });
  });

  it("reads production keys from PEM and refuses keys that are not EC P-256", async () => {
    const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    const signing = await signingKeyFromPem("ops", privatePem);
    const [trusted] = await parseTrustedKeys(JSON.stringify({ ops: [publicPem] }));
    expect(trusted!.kid).to.equal(signing.kid);
    const verifier = createServiceTokenVerifier([trusted!]);
    expect(await verifier.verify(await createServiceTokenSigner(signing).token())).to.deep.equal({ service: "ops" });

    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
    await parseTrustedKeys(JSON.stringify({ ops: rsa })).then(
      () => expect.fail("an RSA key was accepted"),
      (err) => expect(err).to.be.instanceOf(ConfigError),
    );
    await parseTrustedKeys("not json").then(
      () => expect.fail("garbage was accepted"),
      (err) => expect(err).to.be.instanceOf(ConfigError),
    );
  });

  it("refuses to start in production without a private key, and never falls back to the dev key there", async () => {
    expect(() => readServiceKeySettings({ NODE_ENV: "production" }, dir)).to.throw(ConfigError, /SERVICE_TOKEN_PRIVATE_KEY/);
    await loadServiceSigningKey("payment", { devKeysDir: dir, production: true }).then(
      () => expect.fail("the dev key was used in production"),
      (err) => expect(err).to.be.instanceOf(ConfigError),
    );
  });
});
