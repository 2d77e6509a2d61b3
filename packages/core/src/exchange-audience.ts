/**
 * The token exchange audience of Entra ID's public cloud: the `aud` a federated identity
 * credential lists by default, and so the audience a provider asks its token source for.
 *
 * @example
 * ```ts
 * import { PUBLIC_EXCHANGE_AUDIENCE } from "@fedcred/core";
 *
 * PUBLIC_EXCHANGE_AUDIENCE; // "api://AzureADTokenExchange"
 * ```
 */
export const PUBLIC_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** Authority hosts (and their aliases) of the clouds whose federated credentials use another audience. */
const SOVEREIGN_EXCHANGE_AUDIENCES: Readonly<Record<string, string>> = {
  "login.microsoftonline.us": "api://AzureADTokenExchangeUSGov",
  "login.usgovcloudapi.net": "api://AzureADTokenExchangeUSGov",
  "login.chinacloudapi.cn": "api://AzureADTokenExchangeChina",
  "login.partner.microsoftonline.cn": "api://AzureADTokenExchangeChina",
};

/**
 * The token exchange audience of the cloud an authority host belongs to, for a provider whose
 * caller gave no audience: `api://AzureADTokenExchangeUSGov` for Azure US Government
 * (`login.microsoftonline.us`, `login.usgovcloudapi.net`), `api://AzureADTokenExchangeChina`
 * for Azure operated by 21Vianet (`login.chinacloudapi.cn`, `login.partner.microsoftonline.cn`),
 * else {@link PUBLIC_EXCHANGE_AUDIENCE}.
 *
 * @param authorityHost - The credential's authority host as an absolute URL, such as
 *   `AssertionContext.authorityHost`; only its hostname counts (case-insensitive). Undefined, or
 *   a string that is not a URL, means the public cloud.
 * @returns The audience; never throws.
 *
 * @example
 * ```ts
 * import { type AssertionFunc, exchangeAudienceFor } from "@fedcred/core";
 *
 * const fromMyPlatform: AssertionFunc = async (context) => {
 *   const audience = exchangeAudienceFor(context?.authorityHost);
 *   return fetchPlatformToken(audience);
 * };
 * ```
 */
export function exchangeAudienceFor(authorityHost: string | undefined): string {
  let hostname = "";
  try {
    hostname = new URL(authorityHost ?? "").hostname.toLowerCase();
  } catch {}
  return SOVEREIGN_EXCHANGE_AUDIENCES[hostname] ?? PUBLIC_EXCHANGE_AUDIENCE;
}
