/**
 * The shapes of `@azure/core-auth`'s `TokenCredential` contract, declared here so that fedcred
 * needs no runtime dependency for them (the latest `@azure/core-auth` and its dependencies
 * declare Node 22, and they only ever held types for fedcred). They are structurally the same:
 * a fedcred credential is a `TokenCredential` of `@azure/core-auth` to every Azure SDK client,
 * and `@azure/core-auth`'s `GetTokenOptions` and `AccessToken` pass where these are expected.
 */

/**
 * What an abort signal must offer: `AbortSignal`, or `@azure/abort-controller`'s `AbortSignalLike`.
 *
 * @example
 * ```ts
 * import type { AbortSignalLike } from "@fedcred/core";
 *
 * const signal: AbortSignalLike = AbortSignal.timeout(5_000);
 * ```
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(
    type: "abort",
    listener: (this: AbortSignalLike, event: Event) => unknown,
    options?: unknown,
  ): void;
  removeEventListener(
    type: "abort",
    listener: (this: AbortSignalLike, event: Event) => unknown,
    options?: unknown,
  ): void;
}

/**
 * A tracing context of `@azure/core-tracing` (`@azure/core-auth`'s `TracingContext`).
 *
 * @example
 * ```ts
 * import type { TracingContext } from "@fedcred/core";
 *
 * function parentOf(options: { tracingContext?: TracingContext }): TracingContext | undefined {
 *   return options.tracingContext;
 * }
 * ```
 */
export interface TracingContext {
  setValue(key: symbol, value: unknown): TracingContext;
  getValue(key: symbol): unknown;
  deleteValue(key: symbol): TracingContext;
}

/**
 * Options of {@link TokenCredential.getToken}, as `@azure/core-auth` declares them.
 *
 * @example
 * ```ts
 * import type { GetTokenOptions } from "@fedcred/core";
 *
 * const options: GetTokenOptions = { abortSignal: AbortSignal.timeout(10_000), enableCae: true };
 * ```
 */
export interface GetTokenOptions {
  /** Aborts the request (the token request, its retries and the assertion function). */
  abortSignal?: AbortSignalLike;
  requestOptions?: {
    /** Milliseconds. */
    timeout?: number;
  };
  tracingOptions?: {
    tracingContext?: TracingContext;
  };
  /** A claims challenge (base64 or JSON) from a resource that refused a token. */
  claims?: string;
  /** Ask for a token that supports continuous access evaluation. */
  enableCae?: boolean;
  /** Another tenant to get the token from (see `additionallyAllowedTenants`). */
  tenantId?: string;
  /** Not supported by client-assertion credentials; accepted for the shape's sake. */
  proofOfPossessionOptions?: {
    nonce: string;
    resourceRequestMethod: string;
    resourceRequestUrl: string;
  };
}

/**
 * An access token, as `@azure/core-auth` declares it; times in milliseconds since the epoch.
 *
 * @example
 * ```ts
 * import type { AccessToken } from "@fedcred/core";
 *
 * const expired = (token: AccessToken): boolean => token.expiresOnTimestamp <= Date.now();
 * ```
 */
export interface AccessToken {
  token: string;
  expiresOnTimestamp: number;
  refreshAfterTimestamp?: number;
  tokenType?: "Bearer" | "pop";
}

/**
 * Anything that gets access tokens: `@azure/core-auth`'s `TokenCredential`, which every Azure
 * SDK client takes.
 *
 * @example
 * ```ts
 * import type { TokenCredential } from "@fedcred/core";
 *
 * async function bearer(credential: TokenCredential, scope: string): Promise<string | undefined> {
 *   return (await credential.getToken(scope))?.token;
 * }
 * ```
 */
export interface TokenCredential {
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null>;
}
