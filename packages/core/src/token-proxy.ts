import { invalidConfiguration } from "./errors.js";
import type { DestinationTls } from "./transport-tls.js";

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
 * Checks `options.tokenProxy` as the Azure SDKs check the AKS token proxy: an `https` URL
 * without user info, query or fragment.
 */
export function tokenProxyRoute(
  proxy: TokenProxyOptions | undefined,
  source = "options.tokenProxy",
): TokenProxyRoute | undefined {
  if (proxy === undefined || proxy === null) return undefined;
  if (typeof proxy !== "object" || typeof proxy.url !== "string" || proxy.url.trim() === "") {
    throw invalidConfiguration(`${source}.url is required: the https URL of the token proxy.`);
  }
  let url: URL;
  try {
    url = new URL(proxy.url.trim());
  } catch {
    throw invalidConfiguration(`${source}.url is not a valid URL: ${JSON.stringify(proxy.url)}.`);
  }
  if (url.protocol !== "https:") {
    throw invalidConfiguration(
      `${source}.url must use https, got ${JSON.stringify(url.protocol.slice(0, -1))}.`,
    );
  }
  if (url.username || url.password) {
    throw invalidConfiguration(
      `${source}.url must not hold user info (${url.origin} with a user name or password).`,
    );
  }
  if (url.search || url.hash || /[?#]$/.test(proxy.url.trim())) {
    throw invalidConfiguration(
      `${source}.url must not have a query or a fragment: ${JSON.stringify(`${url.origin}${url.pathname}`)}.`,
    );
  }
  const tls = proxy.tls;
  if (tls !== undefined && typeof tls !== "function" && (typeof tls !== "object" || tls === null)) {
    throw invalidConfiguration(
      `${source}.tls must be { ca, servername } or a function returning it.`,
    );
  }
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, "")}`, tls };
}
