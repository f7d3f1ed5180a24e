import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { calculateJwkThumbprint, errors, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from "jose";
import { ConfigError, isProduction, readOptionalString, readString, type Env } from "../config.js";
import { defaultDataDir } from "../paths.js";
import { readOrCreateJsonFile } from "./keyFile.js";
import { VerifiedTokenCache } from "./verifiedTokenCache.js";

/**
 * Service tokens: how our own services prove to Processing who is calling. Each caller
 * signs short-lived JWTs with its own private key; Processing verifies them against the
 * public keys it trusts and then checks which methods that service may call.
 */

/** Issuer of every service token; user tokens (issuer payments-dev or the bank's) never match it. */
export const SERVICE_TOKEN_ISSUER = "payments-internal";
/** Audience of tokens for Processing. */
export const PROCESSING_AUDIENCE = "processing";
/** The only algorithm signed and accepted: asymmetric, so a verifier's key can never sign. */
export const SERVICE_TOKEN_ALG = "ES256";
/** Lifetime of a token; short, so a leaked one is soon useless. */
export const SERVICE_TOKEN_TTL_S = 60;
/** A cached token is replaced when it has less than this left. */
const REFRESH_BEFORE_EXPIRY_S = 20;
/** Tolerated clock difference between caller and Processing. */
export const SERVICE_TOKEN_CLOCK_TOLERANCE_S = 30;

/** Service names are short lowercase words ("payment", "gateway", "ops"); they name key files too. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function assertServiceName(name: string): string {
  if (!SERVICE_NAME.test(name)) throw new ConfigError(`service name "${name}" must be 1-32 characters of [a-z0-9-], starting with a letter`);
  return name;
}

/** A caller's signing key; `kid` is the RFC 7638 thumbprint of its public key, so the verifier finds the key without trying each. */
export interface ServiceSigningKey {
  service: string;
  privateKey: KeyObject;
  kid: string;
}

/** A public key Processing trusts, and the one service it speaks for. */
export interface TrustedServiceKey {
  service: string;
  publicKey: KeyObject;
  kid: string;
}

async function kidOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey));
}

function assertP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new ConfigError(`${what} must be an EC P-256 key (service tokens are ${SERVICE_TOKEN_ALG})`);
}

/** Reads a PKCS#8 (or SEC1) PEM private key, as given in SERVICE_TOKEN_PRIVATE_KEY. */
export async function signingKeyFromPem(service: string, pem: string): Promise<ServiceSigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ConfigError("SERVICE_TOKEN_PRIVATE_KEY is not a readable PEM private key");
  }
  assertP256(privateKey, "SERVICE_TOKEN_PRIVATE_KEY");
  return { service: assertServiceName(service), privateKey, kid: await kidOf(createPublicKey(privateKey)) };
}

/** Reads one trusted SPKI PEM public key of `service`. */
export async function trustedKeyFromPem(service: string, pem: string): Promise<TrustedServiceKey> {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch {
    throw new ConfigError(`PROCESSING_TRUSTED_KEYS: the key of "${service}" is not a readable PEM public key`);
  }
  if (publicKey.type !== "public") throw new ConfigError(`PROCESSING_TRUSTED_KEYS: the key of "${service}" must be a public key`);
  assertP256(publicKey, `PROCESSING_TRUSTED_KEYS: the key of "${service}"`);
  return { service: assertServiceName(service), publicKey, kid: await kidOf(publicKey) };
}

/**
 * Parses PROCESSING_TRUSTED_KEYS: a JSON object from service name to one SPKI PEM public
 * key, or to a list of them (to rotate a key, trust old and new for a while).
 */
export async function parseTrustedKeys(json: string): Promise<TrustedServiceKey[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ConfigError("PROCESSING_TRUSTED_KEYS must be a JSON object of service name to PEM public key(s)");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError("PROCESSING_TRUSTED_KEYS must be a JSON object of service name to PEM public key(s)");
  const keys: TrustedServiceKey[] = [];
  for (const [service, value] of Object.entries(parsed)) {
    const pems = Array.isArray(value) ? value : [value];
    for (const pem of pems) {
      if (typeof pem !== "string") throw new ConfigError(`PROCESSING_TRUSTED_KEYS: "${service}" must map to PEM strings`);
      keys.push(await trustedKeyFromPem(service, pem.replace(/\\n/g, "\n")));
    }
  }
  if (keys.length === 0) throw new ConfigError("PROCESSING_TRUSTED_KEYS names no keys");
  return keys;
}

const devKeyFile = (dir: string, service: string) => path.join(dir, `service-${assertServiceName(service)}.json`);

/**
 * Development only: the key pair of `service` in `dir` (service-<name>.json), generated on
 * first use. Whoever comes first (the service itself, or Processing trusting it) creates it;
 * readOrCreateJsonFile makes every process end up with the same key.
 */
export async function loadOrCreateDevServiceKey(dir: string, service: string): Promise<ServiceSigningKey & { publicKey: KeyObject }> {
  const file = devKeyFile(dir, service);
  const stored = await readOrCreateJsonFile<{ privateJwk: JWK }>(file, async () => {
    const pair = await generateKeyPair(SERVICE_TOKEN_ALG, { extractable: true });
    return { privateJwk: await exportJWK(pair.privateKey) };
  });
  const privateKey = createPrivateKey({ key: stored.privateJwk as JsonWebKey, format: "jwk" });
  const publicKey = createPublicKey(privateKey);
  return { service, privateKey, publicKey, kid: await kidOf(publicKey) };
}

/** Development only: the public keys of `services` in `dir`, generating any that are missing. */
export async function loadDevTrustedKeys(dir: string, services: readonly string[]): Promise<TrustedServiceKey[]> {
  return Promise.all(
    services.map(async (service) => {
      const key = await loadOrCreateDevServiceKey(dir, service);
      return { service, publicKey: key.publicKey, kid: key.kid };
    }),
  );
}

/** Where a caller's signing key comes from, as each service's config.ts reads it. */
export interface ServiceKeySettings {
  /** SERVICE_TOKEN_PRIVATE_KEY (PEM); required in production. */
  privateKeyPem?: string;
  /** DEV_KEYS_DIR, used outside production when no PEM is set. */
  devKeysDir: string;
  production: boolean;
}

/** Loads the caller's signing key: the configured PEM, else (never in production) the dev key. */
export async function loadServiceSigningKey(service: string, settings: ServiceKeySettings): Promise<ServiceSigningKey> {
  if (settings.privateKeyPem) return signingKeyFromPem(service, settings.privateKeyPem);
  if (settings.production) throw new ConfigError("production needs SERVICE_TOKEN_PRIVATE_KEY to call Processing");
  return loadOrCreateDevServiceKey(settings.devKeysDir, service);
}

/** Hands out the caller's current token, signing a new one shortly before the cached one expires. */
export interface ServiceTokenSigner {
  readonly service: string;
  token(): Promise<string>;
}

export function createServiceTokenSigner(
  key: ServiceSigningKey,
  options: { audience?: string; ttlSeconds?: number; now?: () => number } = {},
): ServiceTokenSigner {
  const audience = options.audience ?? PROCESSING_AUDIENCE;
  const ttl = options.ttlSeconds ?? SERVICE_TOKEN_TTL_S;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  let cached: { token: Promise<string>; exp: number } | undefined;
  return {
    service: key.service,
    token() {
      const t = now();
      if (!cached || cached.exp - t < Math.min(REFRESH_BEFORE_EXPIRY_S, ttl / 2)) {
        const exp = t + ttl;
        const token = new SignJWT({})
          .setProtectedHeader({ alg: SERVICE_TOKEN_ALG, kid: key.kid, typ: "JWT" })
          .setIssuer(SERVICE_TOKEN_ISSUER)
          .setAudience(audience)
          .setSubject(key.service)
          .setIssuedAt(t)
          .setExpirationTime(exp)
          .sign(key.privateKey);
        cached = { token, exp };
        // A failed signature must not stay cached.
        token.catch(() => (cached = undefined));
      }
      return cached.token;
    },
  };
}

/** Metadata with the caller's service token, for a single call (e.g. the operator tool's callUnary). */
export async function serviceCallMetadata(signer: ServiceTokenSigner): Promise<grpc.Metadata> {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${await signer.token()}`);
  return metadata;
}

/**
 * A client interceptor adding the caller's service token to every call of a client:
 * `new ProcessingServiceClient(addr, createInsecure(), { interceptors: [serviceTokenInterceptor(signer)] })`.
 * Works on insecure channels, which cannot carry CallCredentials.
 */
export function serviceTokenInterceptor(signer: ServiceTokenSigner): grpc.Interceptor {
  return (options, nextCall) => {
    const call = nextCall(options);
    return new grpc.InterceptingCall(call, {
      start(metadata, listener, next) {
        signer.token().then(
          (token) => {
            metadata.set("authorization", `Bearer ${token}`);
            next(metadata, listener);
          },
          () => {
            // Start the call and end it at once, so the caller gets a status instead of hanging.
            next(metadata, listener);
            call.cancelWithStatus(grpc.status.UNAUTHENTICATED, "could not sign the service token");
          },
        );
      },
    });
  };
}

/** The verified calling service. */
export interface ServiceCaller {
  service: string;
}

/** Why a service token was refused; the message is safe to send (it never contains the token). */
export class ServiceTokenError extends Error {
  override name = "ServiceTokenError";
}

/** Tokens remembered as verified; a handful of services each hold one or two at a time. */
const MAX_CACHED_TOKENS = 1_000;

/** Checks service tokens against the trusted keys; rejects with {@link ServiceTokenError}. */
export interface ServiceTokenVerifier {
  verify(token: string): Promise<ServiceCaller>;
}

/**
 * Verifies signature (ES256 only, key chosen by `kid`), issuer, audience and expiry (with
 * {@link SERVICE_TOKEN_CLOCK_TOLERANCE_S}), and that `sub` is the service the key belongs to,
 * so one service's key can never speak for another.
 */
export function createServiceTokenVerifier(trusted: readonly TrustedServiceKey[], audience = PROCESSING_AUDIENCE): ServiceTokenVerifier {
  const byKid = new Map(trusted.map((k) => [k.kid, k]));
  // Callers reuse a token for its whole life: its signature is checked once, not per call.
  const verified = new VerifiedTokenCache<ServiceCaller>(SERVICE_TOKEN_CLOCK_TOLERANCE_S, MAX_CACHED_TOKENS);
  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached) return cached;
      let owner: TrustedServiceKey | undefined;
      let sub: unknown;
      let exp: number | undefined;
      try {
        const result = await jwtVerify(
          token,
          (header) => {
            owner = header.kid === undefined ? undefined : byKid.get(header.kid);
            if (!owner) throw new ServiceTokenError("token was signed with an unknown key");
            return owner.publicKey;
          },
          {
            algorithms: [SERVICE_TOKEN_ALG],
            issuer: SERVICE_TOKEN_ISSUER,
            audience,
            clockTolerance: SERVICE_TOKEN_CLOCK_TOLERANCE_S,
            maxTokenAge: `${SERVICE_TOKEN_TTL_S * 10}s`,
            requiredClaims: ["exp", "iat", "sub"],
          },
        );
        sub = result.payload.sub;
        exp = result.payload.exp;
      } catch (err) {
        throw describeError(err);
      }
      if (!owner || sub !== owner.service) throw new ServiceTokenError("token subject does not match its key");
      const caller = { service: owner.service };
      verified.set(token, caller, exp!);
      return caller;
    },
  };
}

function describeError(err: unknown): ServiceTokenError {
  if (err instanceof ServiceTokenError) return err;
  if (err instanceof errors.JWTExpired) return new ServiceTokenError("service token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) return new ServiceTokenError(`service token claim "${err.claim}" is not accepted`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new ServiceTokenError("service token algorithm is not allowed");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new ServiceTokenError("service token signature is invalid");
  return new ServiceTokenError("service token is malformed or not supported");
}

/**
 * Reads a caller's key settings: SERVICE_TOKEN_PRIVATE_KEY (PEM, one line with "\n" escapes
 * is fine) and DEV_KEYS_DIR. Production without a private key is refused here, at start.
 */
export function readServiceKeySettings(env: Env, defaultDevKeysDir: string): ServiceKeySettings {
  const production = isProduction(env);
  const privateKeyPem = readOptionalString(env, "SERVICE_TOKEN_PRIVATE_KEY")?.replace(/\\n/g, "\n");
  if (production && !privateKeyPem) throw new ConfigError("production needs SERVICE_TOKEN_PRIVATE_KEY (PEM) to call Processing");
  return { privateKeyPem, devKeysDir: readString(env, "DEV_KEYS_DIR", defaultDevKeysDir), production };
}

/**
 * A signer for a command-line caller such as the operator tool (`service` "ops"):
 * SERVICE_TOKEN_PRIVATE_KEY, else the development key under DEV_KEYS_DIR (default .data/dev-keys,
 * which a local Processing trusts). Use with {@link serviceCallMetadata} or {@link serviceTokenInterceptor}.
 */
export async function serviceSignerFromEnv(service: string, env: Env): Promise<ServiceTokenSigner> {
  return createServiceTokenSigner(await loadServiceSigningKey(service, readServiceKeySettings(env, path.join(defaultDataDir, "dev-keys"))));
}
