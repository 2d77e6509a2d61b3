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

/**
 * The discovery document of a workload token issuer (a cluster, an AWS account, a CI system):
 * what Entra reads to find the keys that verify the issuer's tokens.
 *
 * @example
 * ```ts
 * sendJson(response, 200, issuerDiscovery(issuer, `${issuer}/jwks`, ["RS256"]));
 * ```
 */
export function issuerDiscovery(
  issuer: string,
  jwksUri: string,
  algorithms: readonly string[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...algorithms],
    ...extra,
  };
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
