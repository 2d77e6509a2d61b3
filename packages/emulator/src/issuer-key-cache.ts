import { type CryptoKey, importJWK, type JWK } from "jose";
import { type FetchJsonOptions, fetchJson } from "./fetch-json.js";

/** Looks up the verification key of an external OIDC issuer, as Entra does for federated assertions. */
export interface IssuerKeyCache {
  /**
   * The key named `kid` in the JWKS of `issuer`, or `undefined` when the issuer has no such key
   * even after one fresh fetch. Rejects when the issuer cannot be reached.
   */
  getKey(
    issuer: string,
    kid: string | undefined,
    alg: string,
  ): Promise<CryptoKey | Uint8Array | undefined>;
  /** Forgets every cached document. */
  clear(): void;
}

/** Options of {@link createIssuerKeyCache}. */
export interface IssuerKeyCacheOptions extends FetchJsonOptions {
  /** How long discovery documents and keys are kept. Defaults to 5 minutes. */
  ttlMs?: number;
}

interface CachedKeys {
  keys: JWK[];
  fetchedAt: number;
}

async function loadKeys(issuer: string, options: FetchJsonOptions): Promise<JWK[]> {
  const base = issuer.endsWith("/") ? issuer.slice(0, -1) : issuer;
  const metadata = (await fetchJson(
    new URL(`${base}/.well-known/openid-configuration`),
    options,
  )) as {
    issuer?: unknown;
    jwks_uri?: unknown;
  };
  // Entra refuses an issuer whose discovery document names another issuer.
  if (metadata.issuer !== issuer)
    throw new Error(`discovery document names issuer ${String(metadata.issuer)}`);
  if (typeof metadata.jwks_uri !== "string") throw new Error("discovery document has no jwks_uri");
  const document = (await fetchJson(new URL(metadata.jwks_uri), options)) as { keys?: unknown };
  if (!Array.isArray(document.keys)) throw new Error("JWKS has no keys");
  return document.keys as JWK[];
}

/**
 * A cache of issuers' discovery documents and JWKS that shares one fetch per issuer, keeps
 * answers for `ttlMs`, and re-fetches once when asked for an unknown `kid`.
 *
 * @example
 * ```ts
 * const cache = createIssuerKeyCache({ trustedCertificates: [caPem] });
 * const key = await cache.getKey("https://127.0.0.1:8443", header.kid, "RS256");
 * ```
 */
export function createIssuerKeyCache(options: IssuerKeyCacheOptions = {}): IssuerKeyCache {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const cached = new Map<string, CachedKeys>();
  const pending = new Map<string, Promise<CachedKeys>>();

  const refresh = (issuer: string): Promise<CachedKeys> => {
    let inFlight = pending.get(issuer);
    if (!inFlight) {
      inFlight = loadKeys(issuer, options)
        .then((keys) => {
          const entry = { keys, fetchedAt: Date.now() };
          cached.set(issuer, entry);
          return entry;
        })
        .finally(() => pending.delete(issuer));
      pending.set(issuer, inFlight);
    }
    return inFlight;
  };

  const find = (entry: CachedKeys, kid: string | undefined): JWK | undefined =>
    kid === undefined && entry.keys.length === 1
      ? entry.keys[0]
      : entry.keys.find((key) => key.kid !== undefined && key.kid === kid);

  return {
    async getKey(issuer, kid, alg) {
      let entry = cached.get(issuer);
      let fresh = false;
      if (!entry || Date.now() - entry.fetchedAt > ttlMs) {
        entry = await refresh(issuer);
        fresh = true;
      }
      let jwk = find(entry, kid);
      if (!jwk && !fresh) jwk = find(await refresh(issuer), kid);
      return jwk ? importJWK({ ...jwk, alg }, alg) : undefined;
    },
    clear() {
      cached.clear();
    },
  };
}
