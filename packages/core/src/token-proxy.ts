import { CredentialUnavailableError, invalidConfiguration } from "./errors.js";
import type { DestinationTls } from "./transport-tls.js";
import { quoteUnparsedUrl } from "./url-safety.js";

/**
 * Where a credential sends its token requests instead of the authority host, and how it
 * connects there: the AKS identity-binding token proxy is one such destination.
 *
 * The request itself does not change (the same form, the same client assertion); only its
 * URL becomes `{url}/{tenantId}/oauth2/v2.0/token` and the connection uses `tls`. The assertion
 * context keeps the authority host's token endpoint, the audience the request is meant for.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 * import { ClientAssertionCredential, type TokenProxyOptions } from "@fedcred/core";
 *
 * const tokenProxy: TokenProxyOptions = {
 *   url: "https://10.0.0.1:8443/token-proxy",
 *   // Called before every request, so a rotated CA file is picked up.
 *   tls: async () => ({ ca: await readFile("/var/run/proxy/ca.crt", "utf8"), servername: "proxy.internal" }),
 * };
 * const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, { tokenProxy });
 * ```
 */
export interface TokenProxyOptions {
  /**
   * The `https` base URL token requests go to, with an optional path: a request for tenant `t`
   * goes to `{url}/t/oauth2/v2.0/token`. No user info, query or fragment.
   */
  url: string;
  /**
   * TLS for that destination: `ca`, the only certificate authorities trusted there (PEM), and
   * `servername`, the name sent as SNI and checked against the certificate instead of the
   * URL's host. A function is called before each request (its errors fail that request), so
   * the CA can rotate.
   */
  tls?: DestinationTls | (() => DestinationTls | Promise<DestinationTls>) | undefined;
}

/** A validated {@link TokenProxyOptions}: the base URL without a trailing slash. */
export interface TokenProxyRoute {
  base: string;
  tls: TokenProxyOptions["tls"];
}

/**
 * Checks a token proxy URL as the Azure SDKs check the AKS token proxy (an `https` URL, with an
 * optional path, without user info, query or fragment) and returns it without a trailing
 * slash. `source` names where the value came from in the error.
 *
 * @throws {@link CredentialUnavailableError} `missing_configuration` when empty,
 *   `invalid_configuration` naming `source` and what is wrong otherwise.
 *
 * @example
 * ```ts
 * import { tokenProxyBaseUrl } from "@fedcred/core";
 *
 * tokenProxyBaseUrl("https://10.0.0.1:8443/proxy/", "AZURE_KUBERNETES_TOKEN_PROXY"); // "https://10.0.0.1:8443/proxy"
 * ```
 */
export function tokenProxyBaseUrl(value: unknown, source: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new CredentialUnavailableError(
      `${source} is required: the https URL of the token proxy.`,
      "missing_configuration",
    );
  }
  const trimmed = value.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw invalidConfiguration(`${source} is not a valid URL: ${quoteUnparsedUrl(value)}.`);
  }
  if (url.protocol !== "https:") {
    throw invalidConfiguration(
      `${source} must use https, got ${JSON.stringify(url.protocol.slice(0, -1))}.`,
    );
  }
  if (url.username || url.password) {
    throw invalidConfiguration(
      `${source} must not hold user info (${url.origin} with a user name or password).`,
    );
  }
  if (url.search || url.hash || /[?#]$/.test(trimmed)) {
    throw invalidConfiguration(
      `${source} must not have a query or a fragment: ${JSON.stringify(`${url.origin}${url.pathname}`)}.`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** Checks `options.tokenProxy`. */
export function tokenProxyRoute(
  proxy: TokenProxyOptions | undefined,
  source = "options.tokenProxy",
): TokenProxyRoute | undefined {
  if (proxy === undefined || proxy === null) return undefined;
  if (typeof proxy !== "object") {
    throw invalidConfiguration(`${source} must be { url, tls }.`);
  }
  const base = tokenProxyBaseUrl(proxy.url, `${source}.url`);
  const tls = proxy.tls;
  if (tls !== undefined && typeof tls !== "function" && (typeof tls !== "object" || tls === null)) {
    throw invalidConfiguration(
      `${source}.tls must be { ca, servername } or a function returning it.`,
    );
  }
  return { base, tls };
}
