import { AuthenticationError, CredentialUnavailableError } from "./errors.js";
import type { GetTokenOptions, TokenCredential, TracingContext } from "./token-credential.js";

/**
 * Options of {@link getBearerTokenProvider}: the shape of `@azure/identity`'s.
 *
 * @example
 * ```ts
 * import type { GetBearerTokenProviderOptions } from "@fedcred/core";
 *
 * const options: GetBearerTokenProviderOptions = { abortSignal: AbortSignal.timeout(10_000) };
 * ```
 */
export interface GetBearerTokenProviderOptions {
  /** Aborts the token requests; once it has aborted, every call of the provider rejects. */
  abortSignal?: GetTokenOptions["abortSignal"];
  /** The tracing options for the requests to get tokens. */
  tracingOptions?: {
    /** The tracing context the token requests' spans are children of. */
    tracingContext?: TracingContext;
  };
}

/**
 * Returns a function that resolves to an access token for `scopes`, for clients that take a
 * bearer token callback rather than a `TokenCredential` (the `openai` package's `AzureOpenAI`,
 * for one). It works over any `TokenCredential`, with the signature of `@azure/identity`'s
 * `getBearerTokenProvider`.
 *
 * Each call asks the credential, with `enableCae: true` as Azure SDK clients do, so the
 * provider and the SDK clients that share a credential share its cached token: with a fedcred
 * credential a call is a cache hit until the token needs refreshing. A credential that keeps
 * no cache of its own is asked anew on every call. Every failure is a rejection: the
 * credential's own error, or an `AuthenticationError` (`token_request_failed`) when it returns
 * no token.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential, getBearerTokenProvider } from "@fedcred/core";
 * import { fromFile } from "@fedcred/file";
 * import { AzureOpenAI } from "openai";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromFile());
 * const client = new AzureOpenAI({
 *   azureADTokenProvider: getBearerTokenProvider(credential, "https://cognitiveservices.azure.com/.default"),
 *   endpoint: "https://my-resource.openai.azure.com",
 *   apiVersion: "2024-10-21",
 *   deployment: "gpt-4o",
 * });
 * ```
 */
export function getBearerTokenProvider(
  credential: TokenCredential,
  scopes: string | string[],
  options?: GetBearerTokenProviderOptions,
): () => Promise<string> {
  if (typeof credential?.getToken !== "function") {
    throw new CredentialUnavailableError(
      "getBearerTokenProvider needs a TokenCredential (an object with a getToken method) as its first argument.",
      "invalid_configuration",
    );
  }
  const { abortSignal, tracingOptions } = options ?? {};
  return async () => {
    const accessToken = await credential.getToken(scopes, {
      abortSignal,
      tracingOptions,
      enableCae: true,
    });
    if (typeof accessToken?.token !== "string" || accessToken.token === "") {
      const name = credential.constructor?.name;
      const getToken = name && name !== "Object" ? `${name}.getToken` : "The credential's getToken";
      const returned = accessToken == null ? String(accessToken) : "no token string";
      throw new AuthenticationError(
        `${getToken} returned ${returned} for ${JSON.stringify(scopes)}: it could not get an access token. Check the credential's configuration and its log (AZURE_LOG_LEVEL=info).`,
        "token_request_failed",
      );
    }
    return accessToken.token;
  };
}
