import path from "node:path";
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import { readOrCreateJsonFile } from "./keyFile.js";

/** Signing algorithm of dev tokens; production verifies whatever its key or JWKS allows from the allow-list. */
export const DEV_JWT_ALG = "ES256";
export const DEV_JWT_ISSUER = "payments-dev";
export const DEV_JWT_AUDIENCE = "payments-api";

export interface DevKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  kid: string;
}

/**
 * Loads the development signing key pair from `dir`, generating it on first use. It never
 * leaves the machine (the folder is git-ignored) and production refuses to use it.
 */
export async function loadOrCreateDevKeys(dir: string): Promise<DevKeys> {
  const file = path.join(dir, "jwt-dev-key.json");
  const stored = await readOrCreateJsonFile<{ kid: string; privateJwk: JWK; publicJwk: JWK }>(file, async () => {
    const pair = await generateKeyPair(DEV_JWT_ALG, { extractable: true });
    return {
      kid: `dev-${Date.now().toString(36)}`,
      privateJwk: await exportJWK(pair.privateKey),
      publicJwk: await exportJWK(pair.publicKey),
    };
  });
  return {
    kid: stored.kid,
    privateKey: (await importJWK(stored.privateJwk, DEV_JWT_ALG)) as CryptoKey,
    publicKey: (await importJWK(stored.publicJwk, DEV_JWT_ALG)) as CryptoKey,
  };
}
