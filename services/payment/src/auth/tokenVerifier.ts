import type { Metadata } from "@grpc/grpc-js";
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type JWTVerifyGetKey, type KeyObject } from "jose";
import { unauthenticated, unavailable } from "@payments/common/grpc/errors";
import { VerifiedTokenCache } from "@payments/common/auth/verifiedTokenCache";

/** User ids are opaque but bounded; ":" is reserved for provider accounts ("provider:<service>"). */
const USER_ID = /^[A-Za-z0-9._@-]{1,128}$/;

/** Real tokens are well under 2 KB; a longer one is refused before it is parsed. */
const MAX_TOKEN_LENGTH = 8192;

/** Tolerated clock difference between the identity provider and us, in seconds. */
const CLOCK_TOLERANCE_S = 30;

/** Where the verifying key comes from: a fixed key, or a resolver (remote key set, PEM per algorithm). */
export type VerificationKey = CryptoKey | KeyObject | Uint8Array | JWTVerifyGetKey;

export interface TokenVerifierOptions {
  key: VerificationKey;
  issuer: string;
  audience: string;
  algorithms: string[];
}

/** The authenticated caller. */
export interface Caller {
  userId: string;
}

/** Checks a bearer token and names the caller; rejects with an RpcError (UNAUTHENTICATED or UNAVAILABLE). */
export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}

/**
 * Builds a verifier over jose's `jwtVerify`: signature, algorithm allow-list, issuer,
 * audience and expiry are all required. The caller is the token's `sub`, nothing else.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const verifyOptions = {
    algorithms: options.algorithms,
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: CLOCK_TOLERANCE_S,
    requiredClaims: ["exp", "sub"],
  };
  // A client keeps its token for many calls: its signature is checked once, not per call.
  const verified = new VerifiedTokenCache<Caller>(CLOCK_TOLERANCE_S);
  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached) return cached;
      let sub: unknown;
      let exp: number | undefined;
      try {
        // Two call shapes so TypeScript can pick jwtVerify's overload.
        const result =
          typeof options.key === "function"
            ? await jwtVerify(token, options.key, verifyOptions)
            : await jwtVerify(token, options.key, verifyOptions);
        sub = result.payload.sub;
        exp = result.payload.exp;
      } catch (err) {
        throw describeVerifyError(err);
      }
      if (typeof sub !== "string" || !USER_ID.test(sub)) throw unauthenticated("token subject is not a valid user id");
      const caller = { userId: sub };
      verified.set(token, caller, exp!);
      return caller;
    },
  };
}

/**
 * A key resolver for one PEM public key: jose needs the algorithm to import it, and the
 * token's own `alg` (already checked against the allow-list by jwtVerify) is the one to use.
 */
export function pemKeyResolver(pem: string): JWTVerifyGetKey {
  const imported = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    const alg = header.alg ?? "";
    let key = imported.get(alg);
    if (!key) {
      key = importSPKI(pem, alg);
      imported.set(alg, key);
      // A key that does not fit this algorithm must not poison the cache for later calls.
      key.catch(() => imported.delete(alg));
    }
    return key;
  };
}

/** The identity provider's key set could not be fetched: our dependency is down, the token may be fine. */
export class KeySourceUnavailableError extends Error {
  override name = "KeySourceUnavailableError";
}

/**
 * A resolver that fetches (and caches) the identity provider's JSON Web Key Set. Fetch
 * failures are told apart from bad tokens, so callers get UNAVAILABLE rather than a
 * misleading UNAUTHENTICATED.
 */
export function remoteKeySet(url: string): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 3000, cooldownDuration: 30_000 });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      const tokenProblem =
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSENotSupported ||
        err instanceof errors.JWSInvalid;
      if (tokenProblem) throw err;
      throw new KeySourceUnavailableError("could not fetch the token key set", { cause: err });
    }
  };
}

/**
 * Reads `authorization: Bearer <token>` from call metadata and verifies it. Every problem
 * is UNAUTHENTICATED with a message that says what is wrong, never the token itself.
 */
export async function authenticate(metadata: Metadata, verifier: TokenVerifier): Promise<Caller> {
  const values = metadata.get("authorization");
  if (values.length === 0) throw unauthenticated("missing authorization metadata (expected \"Bearer <token>\")");
  if (values.length > 1) throw unauthenticated("more than one authorization value");
  const value = values[0];
  if (typeof value !== "string") throw unauthenticated("authorization metadata must be text");
  const match = /^Bearer +([^\s]+)$/i.exec(value.trim());
  if (!match?.[1]) throw unauthenticated("authorization must be \"Bearer <token>\"");
  if (match[1].length > MAX_TOKEN_LENGTH) throw unauthenticated("token is too long");
  return verifier.verify(match[1]);
}

function describeVerifyError(err: unknown): Error {
  if (err instanceof errors.JWTExpired) return unauthenticated("token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "iss":
        return unauthenticated("token issuer is not accepted");
      case "aud":
        return unauthenticated("token audience is not accepted");
      case "nbf":
        return unauthenticated("token is not valid yet");
      default:
        return unauthenticated(`token claim "${err.claim}" is invalid: ${err.reason}`);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthenticated("token signature algorithm is not allowed");
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("token signature is invalid");
  if (err instanceof errors.JWKSNoMatchingKey) return unauthenticated("token was signed with an unknown key");
  if (err instanceof KeySourceUnavailableError) return unavailable("token keys are unavailable, try again");
  // Malformed tokens, unsecured ("alg: none") tokens, keys that do not fit the token's algorithm.
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return unauthenticated("token is malformed");
  return unauthenticated("token is invalid or not supported");
}
