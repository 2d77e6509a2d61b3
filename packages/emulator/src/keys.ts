import { randomUUID, type webcrypto } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/**
 * A signing key of an emulated issuer, with its public JWK.
 *
 * @example
 * ```ts
 * const key: SigningKey = await createSigningKey("ES384");
 * key.publicJwk.kid;
 * ```
 */
export interface SigningKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES384";
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicJwk: JWK;
  /** Signs `payload` as a compact JWS with header `{alg, kid, typ}`. */
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

/**
 * Generates a key pair (RS256 by default) and its public JWK with `kid`, `use` and `alg`.
 *
 * @example
 * ```ts
 * const key = await createSigningKey("RS256");
 * const token = await key.sign({ iss, sub, aud, exp });
 * const jwks = { keys: [key.publicJwk] };
 * ```
 */
export async function createSigningKey(
  alg: "RS256" | "ES384" = "RS256",
  kid: string = randomUUID(),
): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, use: "sig", alg };
  return {
    kid,
    alg,
    privateKey,
    publicJwk,
    sign: (payload, header = {}) =>
      new SignJWT(payload).setProtectedHeader({ typ: "JWT", ...header, alg, kid }).sign(privateKey),
  };
}

/** The JWKS document for a set of keys. */
export function jwks(keys: readonly SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
