/**
 * The audience Entra ID expects of federated tokens in the public cloud.
 *
 * @example
 * ```ts
 * import { DEFAULT_AUDIENCE, fromManagedIdentity } from "@fedcred/managed-identity";
 *
 * fromManagedIdentity({ audience: DEFAULT_AUDIENCE });
 * ```
 */
export const DEFAULT_AUDIENCE = "api://AzureADTokenExchange";

const SOVEREIGN_AUDIENCES: Record<string, string> = {
  "login.microsoftonline.us": "api://AzureADTokenExchangeUSGov",
  "login.chinacloudapi.cn": "api://AzureADTokenExchangeChina",
};

/** The token exchange audience of the cloud whose authority `authorityHost` is. */
export function exchangeAudienceFor(authorityHost: string | undefined): string {
  let host = "";
  try {
    host = new URL(authorityHost ?? "").hostname.toLowerCase();
  } catch {}
  return SOVEREIGN_AUDIENCES[host] ?? DEFAULT_AUDIENCE;
}
