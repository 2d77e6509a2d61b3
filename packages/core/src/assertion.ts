import type { JwtClaims } from "./jwt.js";

/**
 * What the credential tells an assertion function about the token request it is about to send.
 *
 * @example
 * ```ts
 * import type { AssertionContext } from "@fedcred/core";
 *
 * function describe(context: AssertionContext): string {
 *   return `assertion for ${context.clientId} at ${context.tokenEndpoint}`;
 * }
 * ```
 */
export interface AssertionContext {
  /** The application (client) id the token is requested for. */
  clientId: string;
  /** The tenant this request is for, after multi-tenant resolution. */
  tenantId: string;
  /** The authority host, normalised, without a trailing slash. */
  authorityHost: string;
  /** The exact URL the assertion will be posted to (the `aud` of certificate assertions). */
  tokenEndpoint: string;
  /** Aborted when every caller waiting for this request gave up, or the credential closed. */
  abortSignal?: AbortSignal;
  /**
   * `true` when Entra ID refused the previous assertion as expired (AADSTS700024): a provider
   * that memoizes its assertion must fetch a new one instead of returning the memoized value.
   */
  forceRefresh?: boolean;
}

/**
 * Supplies the client assertion (a JWT) that the credential exchanges for an access token.
 * A zero-argument `() => Promise<string>` fits too.
 *
 * The credential calls it only when it is about to send a token request: never on a cache hit,
 * once per request, and once more after Entra ID answers that the assertion expired.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 * import type { AssertionFunc } from "@fedcred/core";
 *
 * const getAssertion: AssertionFunc = async () =>
 *   (await readFile("/var/run/secrets/tokens/azure-identity-token", "utf8")).trim();
 * ```
 */
export interface AssertionFunc {
  (context: AssertionContext): string | Promise<string>;
  /**
   * Optional: what the source can add when Entra ID refuses its assertion with these AADSTS
   * codes (a certificate provider names the thumbprint it sent for 700027). `claims` are the
   * decoded claims of the assertion that was refused. The credential appends the answer to the
   * error's message. Must never return a secret.
   */
  describeRefusal?:
    | ((codes: readonly number[], claims: JwtClaims | undefined) => string | undefined)
    | undefined;
}
