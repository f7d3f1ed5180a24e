import { createSecretKey } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import { signDevToken } from "@payments/common/auth/devToken";
import {
  createServiceTokenSigner,
  loadOrCreateDevServiceKey,
  PROCESSING_AUDIENCE,
  SERVICE_TOKEN_ISSUER,
  type ServiceTokenSigner,
} from "@payments/common/auth/serviceTokens";
import { callUnary } from "@payments/common/grpc/client";
import { checkHealth } from "@payments/common/grpc/healthCheck";
import { expectStatus } from "@payments/testing/grpcStatus";
import { devServiceSigner } from "@payments/testing/serviceTokens";
import { ProcessingServiceClient, SettleOutcome, SettleRequest } from "@payments/contracts/gen/payments/processing/v1/processing_service";
import { RejectReason } from "@payments/contracts/gen/payments/v1/payment";
import { holdRequest, ProcessingHarness } from "./processingHarness.js";

const bearer = (token: string) => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
};

describe("Processing service tokens (who may call what)", function () {
  this.timeout(20_000);
  let h: ProcessingHarness;
  /** A client that adds nothing: each test sends its own metadata. */
  let bare: ProcessingServiceClient;
  let payment: ServiceTokenSigner;
  let gateway: ServiceTokenSigner;
  let ops: ServiceTokenSigner;

  before(async () => {
    h = await ProcessingHarness.start();
    bare = new ProcessingServiceClient(`127.0.0.1:${h.app.grpc.port}`, grpc.credentials.createInsecure());
    payment = await devServiceSigner(h.keysDir, "payment");
    gateway = await devServiceSigner(h.keysDir, "gateway");
    ops = await devServiceSigner(h.keysDir, "ops");
  });
  after(async () => {
    bare?.close();
    await h?.stop();
  });

  const hold = (metadata: grpc.Metadata) => callUnary(bare.hold.bind(bare), holdRequest({ userId: "auth-user" }), { metadata });
  const settle = (metadata: grpc.Metadata, paymentId: string) =>
    callUnary(
      bare.settle.bind(bare),
      SettleRequest.fromPartial({
        paymentId,
        idempotencyKey: `settle:${paymentId}`,
        outcome: SettleOutcome.SETTLE_OUTCOME_APPROVED,
        rejectReason: RejectReason.REJECT_REASON_UNSPECIFIED,
      }),
      { metadata },
    );
  const unknownPayment = "0190a5c4-0000-7000-8000-000000000000";

  it("refuses a call without a token as UNAUTHENTICATED, before the handler runs", async () => {
    await h.fund("auth-user", "USD", 10_000n);
    await expectStatus(hold(new grpc.Metadata()), grpc.status.UNAUTHENTICATED, "missing service token");
    expect(await h.count("payments")).to.equal(0);
  });

  it("refuses a user token (issuer payments-dev, audience payments-api)", async () => {
    const userToken = await signDevToken(await loadOrCreateDevKeys(h.keysDir), "auth-user");
    await expectStatus(hold(bearer(userToken)), grpc.status.UNAUTHENTICATED);
    await expectStatus(settle(bearer(userToken), unknownPayment), grpc.status.UNAUTHENTICATED);
  });

  it("lets payment hold but not settle (PERMISSION_DENIED), and lets the gateway settle", async () => {
    const { payment: held } = await hold(bearer(await payment.token()));
    await expectStatus(settle(bearer(await payment.token()), held!.id), grpc.status.PERMISSION_DENIED, 'service "payment" may not call Settle');
    expect(await h.account("auth-user", "USD")).to.deep.equal({ balance: 10_000n, held: 1_000n });
    const settled = await settle(bearer(await gateway.token()), held!.id);
    expect(settled.payment!.id).to.equal(held!.id);
    expect(await h.account("auth-user", "USD")).to.deep.equal({ balance: 9_000n, held: 0n });
  });

  it("refuses the gateway's Hold and the operator's Hold with PERMISSION_DENIED", async () => {
    await expectStatus(hold(bearer(await gateway.token())), grpc.status.PERMISSION_DENIED);
    await expectStatus(hold(bearer(await ops.token())), grpc.status.PERMISSION_DENIED);
  });

  it("lets the operator tool settle (an unknown payment is NOT_FOUND, so the call got through)", async () => {
    await expectStatus(settle(bearer(await ops.token()), unknownPayment), grpc.status.NOT_FOUND);
  });

  it("lets the operator settle only a payment under review, whatever its request says", async () => {
    await h.fund("ops-target", "USD", 5_000n);
    const { payment } = await h.hold(holdRequest({ userId: "ops-target" }));
    await expectStatus(settle(bearer(await ops.token()), payment!.id), grpc.status.FAILED_PRECONDITION, "not under review");
    expect(await h.account("ops-target", "USD")).to.deep.equal({ balance: 5_000n, held: 1_000n });
  });

  it("refuses an expired token, beyond the 30 s clock tolerance", async () => {
    const key = await loadOrCreateDevServiceKey(h.keysDir, "gateway");
    const stale = createServiceTokenSigner(key, { now: () => Math.floor(Date.now() / 1000) - 120 });
    await expectStatus(settle(bearer(await stale.token()), unknownPayment), grpc.status.UNAUTHENTICATED, "expired");
  });

  it("refuses a token for another audience or issuer", async () => {
    const key = await loadOrCreateDevServiceKey(h.keysDir, "gateway");
    const otherAudience = createServiceTokenSigner(key, { audience: "payments-api" });
    await expectStatus(settle(bearer(await otherAudience.token()), unknownPayment), grpc.status.UNAUTHENTICATED, "aud");
    const otherIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setIssuer("payments-dev")
      .setAudience(PROCESSING_AUDIENCE)
      .setSubject("gateway")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(key.privateKey);
    await expectStatus(settle(bearer(otherIssuer), unknownPayment), grpc.status.UNAUTHENTICATED, "iss");
  });

  it("refuses one service's key speaking for another (sub must match the key)", async () => {
    const key = await loadOrCreateDevServiceKey(h.keysDir, "payment");
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setIssuer(SERVICE_TOKEN_ISSUER)
      .setAudience(PROCESSING_AUDIENCE)
      .setSubject("gateway")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(key.privateKey);
    await expectStatus(settle(bearer(forged), unknownPayment), grpc.status.UNAUTHENTICATED, "subject does not match");
  });

  it("refuses a key it does not trust, even with the right claims", async () => {
    const stranger = await generateKeyPair("ES256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: (await loadOrCreateDevServiceKey(h.keysDir, "gateway")).kid })
      .setIssuer(SERVICE_TOKEN_ISSUER)
      .setAudience(PROCESSING_AUDIENCE)
      .setSubject("gateway")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(stranger.privateKey);
    await expectStatus(settle(bearer(token), unknownPayment), grpc.status.UNAUTHENTICATED, "signature is invalid");
  });

  it("refuses algorithm confusion: HS256 signed with the trusted public key as the secret", async () => {
    const key = await loadOrCreateDevServiceKey(h.keysDir, "gateway");
    const secret = createSecretKey(Buffer.from(await exportSPKI(key.publicKey)));
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: key.kid })
      .setIssuer(SERVICE_TOKEN_ISSUER)
      .setAudience(PROCESSING_AUDIENCE)
      .setSubject("gateway")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(secret);
    await expectStatus(settle(bearer(token), unknownPayment), grpc.status.UNAUTHENTICATED, "algorithm is not allowed");
  });

  it("refuses garbage and unsigned tokens", async () => {
    await expectStatus(settle(bearer("not.a.jwt"), unknownPayment), grpc.status.UNAUTHENTICATED);
    await expectStatus(settle(bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJnYXRld2F5In0."), unknownPayment), grpc.status.UNAUTHENTICATED);
    const basic = new grpc.Metadata();
    basic.set("authorization", `Basic ${await gateway.token()}`);
    await expectStatus(settle(basic, unknownPayment), grpc.status.UNAUTHENTICATED, "Bearer");
  });

  it("keeps health open without a token", async () => {
    expect(await checkHealth(`127.0.0.1:${h.app.grpc.port}`, { service: "", deadlineMs: 2_000 })).to.equal("SERVING");
  });
});
