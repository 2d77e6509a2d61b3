import { invalidConfiguration } from "./errors.js";
import { sameTenant } from "./tenant.js";
import { isLoopbackHostname, quoteUnparsedUrl } from "./url-safety.js";

/**
 * The authority hosts of the Azure clouds.
 *
 * @example
 * ```ts
 * import { AzureAuthorityHosts, ClientAssertionCredential } from "@fedcred/core";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, {
 *   authorityHost: AzureAuthorityHosts.AzureGovernment,
 * });
 * ```
 */
export const AzureAuthorityHosts = {
  /** The public cloud. */
  AzurePublicCloud: "https://login.microsoftonline.com",
  /** Azure operated by 21Vianet (China). */
  AzureChina: "https://login.chinacloudapi.cn",
  /** Azure US Government. */
  AzureGovernment: "https://login.microsoftonline.us",
} as const;

/**
 * The environment variable that names the authority host when no option does.
 *
 * @example
 * ```ts
 * import { AZURE_AUTHORITY_HOST } from "@fedcred/core";
 *
 * process.env[AZURE_AUTHORITY_HOST] = "https://login.microsoftonline.us/";
 * ```
 */
export const AZURE_AUTHORITY_HOST = "AZURE_AUTHORITY_HOST";

const EXPECTED_FORM = `such as ${AzureAuthorityHosts.AzurePublicCloud} (a gateway may add a path prefix)`;

/**
 * Normalises an authority host: a bare host gets `https://`, trailing slashes go, `https` is
 * required except for literal loopback hosts (local emulators). A last path segment that is the
 * tenant id (people set `AZURE_AUTHORITY_HOST` to host + tenant) is dropped, so the tenant is
 * not doubled; any other path is kept as a prefix (gateways). A token-endpoint URL, or one with
 * a query, fragment or user info, throws a `CredentialUnavailableError` naming `source`.
 */
export function normalizeAuthorityHost(value: string, source: string, tenantId: string): string {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalidConfiguration(
      `${source} is not a valid authority host URL: ${quoteUnparsedUrl(value)}. Use a host ${EXPECTED_FORM}.`,
    );
  }
  if (
    url.protocol !== "https:" &&
    !(url.protocol === "http:" && isLoopbackHostname(url.hostname))
  ) {
    throw invalidConfiguration(
      `${source} must use https: ${JSON.stringify(url.origin)}. Plain http is accepted only for loopback hosts (localhost, 127.0.0.0/8, [::1]) such as local emulators.`,
    );
  }
  if (url.search || url.hash || url.username || url.password || /[?#]$/.test(trimmed)) {
    throw invalidConfiguration(
      `${source} must be a plain authority host without query, fragment or user info: ${JSON.stringify(`${url.origin}${url.pathname}`)}. Use a host ${EXPECTED_FORM}.`,
    );
  }
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  if (/(^|\/)oauth2(\/|$)/i.test(safeDecode(url.pathname))) {
    throw invalidConfiguration(
      `${source} is a token endpoint URL (${JSON.stringify(`${url.origin}${url.pathname}`)}); give the authority host only, ${EXPECTED_FORM}: fedcred adds /{tenantId}/oauth2/v2.0/token.`,
    );
  }
  // The issuer URL people paste, {host}/{tenant}/v2.0, names the same authority.
  if (segments.length >= 2 && /^v2\.0$/i.test(segments.at(-1) ?? "")) {
    if (sameTenant(segments.at(-2) ?? "", tenantId)) segments.pop();
  }
  const last = segments.at(-1);
  if (last !== undefined && sameTenant(last, tenantId)) segments.pop();
  return `${url.origin}${segments.map((segment) => `/${segment}`).join("")}`;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
