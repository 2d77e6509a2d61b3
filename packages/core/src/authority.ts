import { CredentialUnavailableError } from "./errors.js";

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

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" ||
    hostname === "[::1]" ||
    /^127(\.\d{1,3}){3}$/.test(hostname) ||
    hostname.endsWith(".localhost")
  );
}

/**
 * Normalises an authority host: a bare host gets `https://`, trailing slashes go, `https` is
 * required except for loopback hosts (local emulators). Throws a `CredentialUnavailableError`
 * naming `source` when the value cannot be an authority host.
 */
export function normalizeAuthorityHost(value: string, source: string): string {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CredentialUnavailableError(
      `${source} is not a valid authority host URL: "${value}". Use a host such as ${AzureAuthorityHosts.AzurePublicCloud}.`,
      "invalid_configuration",
    );
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw new CredentialUnavailableError(
      `${source} must use https: "${value}". Plain http is accepted only for loopback hosts (local emulators).`,
      "invalid_configuration",
    );
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new CredentialUnavailableError(
      `${source} must be a plain authority host without query, fragment or credentials: "${url.origin}".`,
      "invalid_configuration",
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
