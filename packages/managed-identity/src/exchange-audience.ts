import { PUBLIC_EXCHANGE_AUDIENCE } from "@fedcred/core";

/**
 * The audience Entra ID expects of federated tokens in the public cloud (core's
 * `PUBLIC_EXCHANGE_AUDIENCE`).
 *
 * @example
 * ```ts
 * import { DEFAULT_AUDIENCE, fromManagedIdentity } from "@fedcred/managed-identity";
 *
 * fromManagedIdentity({ audience: DEFAULT_AUDIENCE });
 * ```
 */
export const DEFAULT_AUDIENCE: "api://AzureADTokenExchange" = PUBLIC_EXCHANGE_AUDIENCE;
