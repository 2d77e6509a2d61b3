import type { IncomingMessage, ServerResponse } from "node:http";
import type { JWK, JWTPayload } from "jose";
import { listen, newId, sendJson } from "./http.js";
import { createSigningKey, issuerDiscovery, jwks, nowSeconds, type SigningKey } from "./keys.js";

/**
 * Configuration of {@link startIssuer}.
 *
 * @example
 * ```ts
 * const config: IssuerConfig = { algorithm: "RS256", tls: { cert, key } };
 * ```
 */
export interface IssuerConfig {
  /** PEM certificate and key: the issuer serves HTTPS. Plain HTTP on loopback otherwise. */
  tls?: { cert: string; key: string };
  host?: string;
  port?: number;
  /** Signing algorithm. Defaults to RS256, the one Entra accepts. */
  algorithm?: "RS256" | "ES384";
}

/**
 * What {@link OidcIssuer.mint} signs.
 *
 * @example
 * ```ts
 * const options: MintOptions = { subject: "ci:job", audience: "api://AzureADTokenExchange", lifetimeSeconds: 600 };
 * const token = await issuer.mint(options);
 * ```
 */
export interface MintOptions {
  subject: string;
  /** One audience or several. Usually `api://AzureADTokenExchange`. */
  audience: string | string[];
  /** Defaults to 3600. Negative values mint tokens that are already expired. */
  lifetimeSeconds?: number;
  /** Extra claims, merged over the standard ones (so they can also override them). */
  claims?: JWTPayload;
  /** Extra header parameters (for example `typ`). */
  header?: Record<string, unknown>;
}

/**
 * A running OIDC issuer.
 *
 * @example
 * ```ts
 * const issuer: OidcIssuer = await startIssuer();
 * const token = await issuer.mint({ subject: "ci:job", audience: "api://AzureADTokenExchange" });
 * await issuer.rotateKeys();
 * ```
 */
export interface OidcIssuer {
  /** Base URL, also the `iss` of every token. */
  readonly url: string;
  readonly issuer: string;
  readonly port: number;
  /** Signs a token with the current key. */
  mint(options: MintOptions): Promise<string>;
  /** Adds a new current key; the old ones stay published unless `dropOld` is set. */
  rotateKeys(options?: { dropOld?: boolean }): Promise<void>;
  /** The published JWKS. */
  jwks(): { keys: JWK[] };
  /** How many times the discovery document and the JWKS were fetched. */
  readonly fetchCounts: { discovery: number; jwks: number };
  close(): Promise<void>;
}

/**
 * Starts a generic OIDC issuer that mints tokens for any subject and audience and serves
 * `/.well-known/openid-configuration` and `/jwks`, as a CI system or a cluster would.
 *
 * @example
 * ```ts
 * const issuer = await startIssuer();
 * const token = await issuer.mint({ subject: "repo:acme/app:ref:refs/heads/main", audience: "api://AzureADTokenExchange" });
 * ```
 */
export async function startIssuer(config: IssuerConfig = {}): Promise<OidcIssuer> {
  const algorithm = config.algorithm ?? "RS256";
  let keys: SigningKey[] = [await createSigningKey(algorithm)];
  const fetchCounts = { discovery: 0, jwks: 0 };
  let base = "";

  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    const path = new URL(request.url ?? "/", "http://issuer").pathname;
    if (request.method === "GET" && path === "/.well-known/openid-configuration") {
      fetchCounts.discovery += 1;
      sendJson(
        response,
        200,
        issuerDiscovery(base, `${base}/jwks`, [algorithm], {
          claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }),
      );
      return;
    }
    if (request.method === "GET" && path === "/jwks") {
      fetchCounts.jwks += 1;
      sendJson(response, 200, jwks(keys));
      return;
    }
    sendJson(response, 404, { error: "not_found" });
  };

  const server = await listen(handler, { host: config.host, port: config.port, tls: config.tls });
  base = server.url;

  return {
    url: server.url,
    issuer: server.url,
    port: server.port,
    fetchCounts,
    mint(options) {
      const now = nowSeconds();
      const current = keys[keys.length - 1] as SigningKey;
      return current.sign(
        {
          iss: base,
          sub: options.subject,
          aud: options.audience,
          iat: now,
          nbf: now,
          exp: now + (options.lifetimeSeconds ?? 3600),
          jti: newId(),
          ...options.claims,
        },
        options.header,
      );
    },
    async rotateKeys(options = {}) {
      const next = await createSigningKey(algorithm);
      keys = options.dropOld ? [next] : [...keys, next];
    },
    jwks: () => jwks(keys),
    close: () => server.close(),
  };
}
