import { SignJWT } from "jose";
import { DEV_JWT_ALG, DEV_JWT_AUDIENCE, DEV_JWT_ISSUER, type DevKeys } from "./devKeys.js";

/** Signs a token for `userId` with the dev key, as the bank's identity provider would. */
export async function signDevToken(keys: DevKeys, userId: string, ttlSeconds = 3600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: DEV_JWT_ALG, kid: keys.kid, typ: "JWT" })
    .setSubject(userId)
    .setIssuer(DEV_JWT_ISSUER)
    .setAudience(DEV_JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(keys.privateKey);
}
