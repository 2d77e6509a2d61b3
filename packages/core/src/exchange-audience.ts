import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { type MemoizeAssertionOptions, type MemoizedAssertion, memoizeAssertion } from "./memo.js";

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
 *   `AssertionContext.authorityHost`; only its hostname counts (case-insensitive). Undefined
 *   (a caller that passes no context, such as `@azure/identity`'s `ClientAssertionCredential`)
 *   means `AZURE_AUTHORITY_HOST`'s cloud, the default authority of such callers; a string that is
 *   not a URL, or neither, means the public cloud.
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
    // No context (@azure/identity's ClientAssertionCredential calls its source without one): the
    // cloud its authority defaults to, AZURE_AUTHORITY_HOST.
    hostname = new URL(
      authorityHost ?? process.env.AZURE_AUTHORITY_HOST ?? "",
    ).hostname.toLowerCase();
  } catch {}
  return SOVEREIGN_EXCHANGE_AUDIENCES[hostname] ?? PUBLIC_EXCHANGE_AUDIENCE;
}

/**
 * `memoizeAssertion` for a source whose token is asked for an audience: the audience given, else
 * the exchange audience of each call's cloud ({@link exchangeAudienceFor} of
 * `context.authorityHost`), with one memo per audience, so a credential of another cloud never
 * gets a token kept for the public one. At most one memo per distinct audience (the given one,
 * or one of the three clouds').
 *
 * @param audience - The audience the caller gave (`options.audience`), or `undefined`.
 * @param fetchFor - The fetch for one audience, as `memoizeAssertion` takes it: a string (kept
 *   until before its `exp`) or a `MemoizedAssertion` with its own expiry.
 * @param options - Passed to each `memoizeAssertion` (`refreshMarginInMs`, in ms).
 * @returns The `AssertionFunc`; errors are the fetch's own.
 *
 * @example
 * ```ts
 * import { memoizeAssertionPerAudience } from "@fedcred/core";
 *
 * const getAssertion = memoizeAssertionPerAudience(options.audience, (audience) => async (context) =>
 *   fetchPlatformToken(audience, context.abortSignal),
 * );
 * ```
 */
export function memoizeAssertionPerAudience(
  audience: string | undefined,
  fetchFor: (
    audience: string,
  ) => (
    context: AssertionContext,
  ) => string | MemoizedAssertion | Promise<string | MemoizedAssertion>,
  options?: MemoizeAssertionOptions,
): AssertionFunc {
  const memos = new Map<string, AssertionFunc>();
  return (context) => {
    const tokenAudience = audience ?? exchangeAudienceFor(context?.authorityHost);
    let memo = memos.get(tokenAudience);
    if (memo === undefined) {
      memo = memoizeAssertion(fetchFor(tokenAudience), options);
      memos.set(tokenAudience, memo);
    }
    return memo(context);
  };
}
