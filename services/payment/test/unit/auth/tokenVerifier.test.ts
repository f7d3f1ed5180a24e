import { createSecretKey } from "node:crypto";
import { Metadata, status } from "@grpc/grpc-js";
import { expect } from "chai";
import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from "jose";
import { RpcError } from "@payments/common/grpc/errors";
import { authenticate, createTokenVerifier, pemKeyResolver, type TokenVerifier } from "../../../src/auth/tokenVerifier.js";

const ISSUER = "payments-test";
const AUDIENCE = "payments-api";

describe("bearer token authentication", () => {
  let key: { privateKey: CryptoKey; publicKey: CryptoKey };
  let otherKey: { privateKey: CryptoKey; publicKey: CryptoKey };
  let verifier: TokenVerifier;

  const sign = (
    claims: { sub?: string; iss?: string; aud?: string; exp?: number } = {},
    signingKey: CryptoKey = key.privateKey,
    alg = "ES256",
  ) => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg })
      .setIssuer(claims.iss ?? ISSUER)
      .setAudience(claims.aud ?? AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(claims.exp ?? now + 600);
    if (claims.sub !== "") jwt.setSubject(claims.sub ?? "alice");
    return jwt.sign(signingKey);
  };

  const withAuth = (value?: string | string[]) => {
    const md = new Metadata();
    for (const v of value === undefined ? [] : Array.isArray(value) ? value : [value]) md.add("authorization", v);
    return md;
  };

  async function rejects(metadata: Metadata, expected: RegExp, code = status.UNAUTHENTICATED, using = verifier): Promise<void> {
    let error: unknown;
    try {
      await authenticate(metadata, using);
    } catch (err) {
      error = err;
    }
    expect(error, "expected the token to be refused").to.be.instanceOf(RpcError);
    expect(status[(error as RpcError).code]).to.equal(status[code]);
    expect((error as RpcError).message).to.match(expected);
  }

  before(async () => {
    key = await generateKeyPair("ES256");
    otherKey = await generateKeyPair("ES256");
    verifier = createTokenVerifier({ key: key.publicKey, issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256", "RS256", "EdDSA"] });
  });

  it("takes the user id from the token's sub", async () => {
    expect(await authenticate(withAuth(`Bearer ${await sign({ sub: "alice.smith@bank-1" })}`), verifier)).to.deep.equal({
      userId: "alice.smith@bank-1",
    });
  });

  it("accepts a token that expired within the 30 s clock tolerance", async () => {
    const token = await sign({ exp: Math.floor(Date.now() / 1000) - 10 });
    expect((await authenticate(withAuth(`Bearer ${token}`), verifier)).userId).to.equal("alice");
  });

  it("refuses a call without authorization metadata", () => rejects(withAuth(), /missing authorization/));

  it("refuses a scheme other than Bearer", async () => rejects(withAuth(`Basic ${await sign()}`), /must be "Bearer <token>"/));

  it("refuses a Bearer header without a token", () => rejects(withAuth("Bearer "), /must be "Bearer <token>"/));

  it("refuses two authorization values", async () => rejects(withAuth([`Bearer ${await sign()}`, "Bearer x"]), /more than one/));

  it("refuses a garbage token", () => rejects(withAuth("Bearer not.a.jwt"), /malformed/));

  it("refuses a token signed by another key", async () =>
    rejects(withAuth(`Bearer ${await sign({}, otherKey.privateKey)}`), /signature is invalid/));

  it("refuses an expired token", async () =>
    rejects(withAuth(`Bearer ${await sign({ exp: Math.floor(Date.now() / 1000) - 120 })}`), /expired/));

  it("refuses a token from another issuer", async () => rejects(withAuth(`Bearer ${await sign({ iss: "evil" })}`), /issuer/));

  it("refuses a token for another audience", async () => rejects(withAuth(`Bearer ${await sign({ aud: "other-api" })}`), /audience/));

  it("refuses an unsecured token (alg none)", async () => {
    const token = new UnsecuredJWT({ sub: "alice" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("10m")
      .encode();
    await rejects(withAuth(`Bearer ${token}`), /algorithm is not allowed/);
  });

  it("refuses an algorithm outside the allow-list even with the right key type", async () => {
    const narrow = createTokenVerifier({ key: key.publicKey, issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"] });
    await rejects(withAuth(`Bearer ${await sign()}`), /algorithm is not allowed/, status.UNAUTHENTICATED, narrow);
  });

  it("refuses algorithm confusion: an HS256 token signed with the PEM public key as the HMAC secret", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const pem = await exportSPKI(pair.publicKey);
    const pemVerifier = createTokenVerifier({ key: pemKeyResolver(pem), issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256", "RS256", "EdDSA"] });
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("10m")
      .sign(createSecretKey(Buffer.from(pem)));
    await rejects(withAuth(`Bearer ${forged}`), /algorithm is not allowed/, status.UNAUTHENTICATED, pemVerifier);
    await rejects(withAuth(`Bearer ${forged}`), /algorithm is not allowed/);
  });

  it("refuses a token signed with an allowed algorithm that does not fit the key (RS256 header, EC key)", async () => {
    const rsa = await generateKeyPair("RS256");
    await rejects(withAuth(`Bearer ${await sign({}, rsa.privateKey, "RS256")}`), /invalid|malformed|not supported/);
  });

  it("refuses a token without an expiry", async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setSubject("alice").setIssuer(ISSUER).setAudience(AUDIENCE).sign(key.privateKey);
    await rejects(withAuth(`Bearer ${token}`), /claim "exp" is invalid/);
  });

  it("refuses a token that is not valid yet beyond the 30 s clock tolerance, accepts one within it", async () => {
    const now = Math.floor(Date.now() / 1000);
    const notYet = (nbf: number) =>
      new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setSubject("alice").setIssuer(ISSUER).setAudience(AUDIENCE)
        .setNotBefore(nbf).setExpirationTime(now + 600).sign(key.privateKey);
    await rejects(withAuth(`Bearer ${await notYet(now + 120)}`), /not valid yet/);
    expect((await authenticate(withAuth(`Bearer ${await notYet(now + 10)}`), verifier)).userId).to.equal("alice");
  });

  it("refuses a sub that is not a valid user id", async () => {
    await rejects(withAuth(`Bearer ${await sign({ sub: "provider:mobile-top-up" })}`), /subject is not a valid user id/);
    await rejects(withAuth(`Bearer ${await sign({ sub: "x".repeat(129) })}`), /subject is not a valid user id/);
  });

  it("refuses a token without sub", async () => rejects(withAuth(`Bearer ${await sign({ sub: "" })}`), /claim "sub" is invalid: missing/));

  it("never echoes the token in the error", async () => {
    const token = await sign({ iss: "evil" });
    let message = "";
    await authenticate(withAuth(`Bearer ${token}`), verifier).catch((err: Error) => (message = err.message));
    expect(message).to.not.contain(token);
    expect(message).to.not.equal("");
  });

  it("verifies with a PEM public key, for the algorithm the token names", async () => {
    const pem = await exportSPKI((await generateKeyPair("ES256", { extractable: true })).publicKey);
    const pair = await generateKeyPair("ES256", { extractable: true });
    const pemVerifier = createTokenVerifier({
      key: pemKeyResolver(await exportSPKI(pair.publicKey)),
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["ES256", "RS256"],
    });
    expect((await authenticate(withAuth(`Bearer ${await sign({}, pair.privateKey)}`), pemVerifier)).userId).to.equal("alice");
    const wrongPem = createTokenVerifier({ key: pemKeyResolver(pem), issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"] });
    await rejects(withAuth(`Bearer ${await sign({}, pair.privateKey)}`), /signature is invalid/, status.UNAUTHENTICATED, wrongPem);
  });
});
