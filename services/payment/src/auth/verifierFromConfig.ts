import { createPublicKey } from "node:crypto";
import type { Logger } from "@payments/common/logger";
import { ConfigError } from "@payments/common/config";
import { loadOrCreateDevKeys } from "@payments/common/auth/devKeys";
import type { AuthConfig } from "../config.js";
import { createTokenVerifier, pemKeyResolver, remoteKeySet, type TokenVerifier, type VerificationKey } from "./tokenVerifier.js";

/**
 * Picks the key source from the configuration: the JWKS URL, else the PEM public key,
 * else (outside production only; loadConfig already refused it in production) the local
 * development key, generated on first use.
 */
export async function createVerifierFromConfig(auth: AuthConfig, production: boolean, log: Logger): Promise<TokenVerifier> {
  let key: VerificationKey;
  if (auth.jwksUrl) {
    key = remoteKeySet(auth.jwksUrl);
    log.info({ jwksUrl: auth.jwksUrl }, "verifying tokens against the JWKS URL");
  } else if (auth.publicKeyPem) {
    // Fail at start, not on the first request, when the PEM is unreadable.
    try {
      createPublicKey(auth.publicKeyPem);
    } catch {
      throw new ConfigError("JWT_PUBLIC_KEY is not a readable PEM public key");
    }
    key = pemKeyResolver(auth.publicKeyPem);
    log.info("verifying tokens against JWT_PUBLIC_KEY");
  } else {
    if (production) throw new ConfigError("the development token key is refused in production");
    key = (await loadOrCreateDevKeys(auth.devKeysDir)).publicKey;
    log.warn({ dir: auth.devKeysDir }, "verifying tokens with the development key; never do this in production");
  }
  return createTokenVerifier({ key, issuer: auth.issuer, audience: auth.audience, algorithms: auth.algorithms });
}
