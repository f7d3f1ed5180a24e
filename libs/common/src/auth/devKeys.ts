import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";

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
  let stored: { kid: string; privateJwk: JWK; publicJwk: JWK };
  try {
    stored = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const pair = await generateKeyPair(DEV_JWT_ALG, { extractable: true });
    stored = {
      kid: `dev-${Date.now().toString(36)}`,
      privateJwk: await exportJWK(pair.privateKey),
      publicJwk: await exportJWK(pair.publicKey),
    };
    await mkdir(dir, { recursive: true });
    // Write a private file, then publish it with link(), which fails if another process
    // published first: everyone then reads the one winning key, never half a file.
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 });
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    stored = JSON.parse(await readFile(file, "utf8"));
  }
  return {
    kid: stored.kid,
    privateKey: (await importJWK(stored.privateJwk, DEV_JWT_ALG)) as CryptoKey,
    publicKey: (await importJWK(stored.publicJwk, DEV_JWT_ALG)) as CryptoKey,
  };
}
