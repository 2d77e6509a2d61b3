import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { createAccessToken, refreshAfter } from "./access-token.js";
import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { AZURE_AUTHORITY_HOST, AzureAuthorityHosts, normalizeAuthorityHost } from "./authority.js";
import {
  AuthenticationError,
  abortError,
  abortReason,
  CredentialUnavailableError,
  FedcredError,
} from "./errors.js";
import { tryDecodeJwtPayload } from "./jwt.js";
import { logger } from "./logger.js";
import {
  backoffDelay,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  type RetryOptions,
  sleep,
} from "./retry.js";
import { checkScopes, scopesKey } from "./scopes.js";
import { checkTenantId, resolveTenant } from "./tenant.js";
import { TokenCache, type TokenKey } from "./token-cache.js";
import {
  buildClaims,
  buildTokenRequest,
  type FetchLike,
  sendTokenRequest,
  type TokenRequest,
  tokenEndpointFor,
} from "./token-request.js";
import { parseTokenResponse, tokenErrorFromResponse } from "./token-response.js";
import type { ClientAssertionCredentialOptions } from "./options.js";

export type { ClientAssertionCredentialOptions };

const DEFAULT_TIMEOUT_MS = 30_000;
const EXPIRED_ASSERTION = 700024;

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return value.trim() === "" ? "an empty string" : "a string";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function nonNegativeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CredentialUnavailableError(
      `${name} must be a non-negative number, got ${describeValue(value)}.`,
      "invalid_configuration",
    );
  }
  return value;
}

function toAbortSignal(signal: GetTokenOptions["abortSignal"]): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort();
  else signal.addEventListener("abort", () => controller.abort());
  return controller.signal;
}

/**
 * Authenticates an Entra ID application with a client assertion: a JWT from the workload's own
 * platform, exchanged through a federated identity credential. A drop-in for
 * `@azure/identity`'s `ClientAssertionCredential`, usable by every Azure SDK client.
 *
 * Tokens are cached in memory and refreshed in the background; concurrent callers share one
 * request; the assertion function runs only when a request is about to be sent.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromFile } from "@fedcred/file";
 * import { BlobServiceClient } from "@azure/storage-blob";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromFile());
 * const blobs = new BlobServiceClient("https://account.blob.core.windows.net", credential);
 * ```
 */
export class ClientAssertionCredential implements TokenCredential {
  readonly #tenantId: string;
  readonly #clientId: string;
  readonly #getAssertion: AssertionFunc;
  readonly #authorityHost: string;
  readonly #allowedTenants: ReadonlySet<string>;
  readonly #maxRetries: number;
  readonly #retryDelayInMs: number;
  readonly #maxRetryDelayInMs: number;
  readonly #timeoutInMs: number;
  readonly #fetch: FetchLike;
  readonly #cache: TokenCache;
  #closed = false;

  /**
   * @param tenantId - The directory (tenant) id of the application.
   * @param clientId - The application (client) id.
   * @param getAssertion - Returns the client assertion (a JWT); see {@link AssertionFunc}.
   * @param options - Authority host, allowed tenants, retries, fetch and timeout.
   */
  constructor(
    tenantId: string,
    clientId: string,
    getAssertion: AssertionFunc,
    options: ClientAssertionCredentialOptions = {},
  ) {
    checkTenantId(tenantId, "tenantId");
    if (typeof clientId !== "string" || clientId.trim() === "") {
      throw new CredentialUnavailableError(
        "clientId is required: pass the application (client) id of the app registration.",
        "missing_configuration",
      );
    }
    if (typeof getAssertion !== "function") {
      throw new CredentialUnavailableError(
        `getAssertion must be a function that returns the client assertion (a JWT), got ${describeValue(getAssertion)}.`,
        "invalid_configuration",
      );
    }
    this.#tenantId = tenantId;
    this.#clientId = clientId;
    this.#getAssertion = getAssertion;
    const configuredHost = options.authorityHost ?? process.env[AZURE_AUTHORITY_HOST];
    this.#authorityHost = normalizeAuthorityHost(
      configuredHost || AzureAuthorityHosts.AzurePublicCloud,
      options.authorityHost !== undefined ? "options.authorityHost" : AZURE_AUTHORITY_HOST,
    );
    const allowed = options.additionallyAllowedTenants ?? [];
    if (!Array.isArray(allowed)) {
      throw new CredentialUnavailableError(
        'options.additionallyAllowedTenants must be an array of tenant ids (or ["*"]).',
        "invalid_configuration",
      );
    }
    for (const tenant of allowed) {
      if (tenant !== "*") checkTenantId(tenant, "options.additionallyAllowedTenants");
    }
    this.#allowedTenants = new Set(allowed);
    const retry = options.retryOptions ?? {};
    this.#maxRetries = nonNegativeNumber(retry.maxRetries, "options.retryOptions.maxRetries", 3);
    this.#retryDelayInMs = nonNegativeNumber(
      retry.retryDelayInMs,
      "options.retryOptions.retryDelayInMs",
      800,
    );
    this.#maxRetryDelayInMs = nonNegativeNumber(
      retry.maxRetryDelayInMs,
      "options.retryOptions.maxRetryDelayInMs",
      60_000,
    );
    this.#timeoutInMs = nonNegativeNumber(
      options.requestTimeoutInMs,
      "options.requestTimeoutInMs",
      DEFAULT_TIMEOUT_MS,
    );
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw new CredentialUnavailableError(
        "options.fetch must be a fetch function.",
        "invalid_configuration",
      );
    }
    this.#fetch = options.fetch ?? (globalThis.fetch as unknown as FetchLike);
    this.#cache = new TokenCache(
      (key, signal) => this.#requestToken(key, buildClaims(undefined, key.enableCae), signal),
      (key, error) =>
        logger.warning(
          `background refresh failed tenant=${key.tenantId} scopes=${key.scopesKey}: ${error instanceof Error ? error.message : String(error)}; the cached token stays in use`,
        ),
    );
  }

  /**
   * Gets an access token for `scopes` (client credentials need `{resource}/.default`), from the
   * cache when a valid one is there.
   *
   * @example
   * ```ts
   * const { token, expiresOnTimestamp } = await credential.getToken("https://storage.azure.com/.default");
   * ```
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    const tenantId = this.#tenantId;
    let enableCae = false;
    if (options !== undefined) {
      if (
        options.claims ||
        (options.tenantId !== undefined && options.tenantId !== tenantId) ||
        options.abortSignal?.aborted
      ) {
        return this.#getTokenSlow(scopes, options);
      }
      enableCae = options.enableCae === true;
    }
    const key =
      typeof scopes === "string"
        ? scopes
        : scopes?.length === 1
          ? (scopes[0] as string)
          : undefined;
    const entry =
      key === undefined ? undefined : this.#cache.valid(this.#cache.get(tenantId, enableCae, key));
    return entry !== undefined ? entry.promise : this.#getTokenSlow(scopes, options);
  }

  /**
   * Drops every cached token and stops background work; later `getToken` calls reject.
   *
   * @example
   * ```ts
   * await credential.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear(this.#closedError());
  }

  async #getTokenSlow(
    scopes: string | string[],
    options: GetTokenOptions = {},
  ): Promise<AccessToken> {
    if (this.#closed) throw this.#closedError();
    const list = checkScopes(scopes);
    const tenantId =
      options.tenantId === undefined
        ? this.#tenantId
        : resolveTenant(this.#tenantId, this.#allowedTenants, options.tenantId);
    const signal = toAbortSignal(options.abortSignal);
    if (signal?.aborted) throw abortError();
    const enableCae = options.enableCae === true;
    const key: TokenKey = { tenantId, enableCae, scopes: list, scopesKey: scopesKey(list) };
    if (options.claims) {
      const claims = buildClaims(options.claims, enableCae);
      return this.#cache.acquireAlone(key, signal, (k, s) => this.#requestToken(k, claims, s));
    }
    return this.#cache.valid(this.#cache.find(key))?.token ?? this.#cache.acquire(key, signal);
  }

  #closedError(): CredentialUnavailableError {
    return new CredentialUnavailableError(
      "The credential was closed: create a new ClientAssertionCredential to get tokens.",
      "credential_closed",
    );
  }

  async #requestToken(
    key: TokenKey,
    claims: string | undefined,
    signal: AbortSignal,
  ): Promise<AccessToken> {
    const tokenEndpoint = tokenEndpointFor(this.#authorityHost, key.tenantId);
    let forceRefresh = false;
    for (;;) {
      const assertion = await this.#assertion(key.tenantId, tokenEndpoint, signal, forceRefresh);
      const request = buildTokenRequest({
        tokenEndpoint,
        clientId: this.#clientId,
        scopes: key.scopes,
        assertion,
        claims,
      });
      try {
        return await this.#send(request, key, signal, assertion);
      } catch (error) {
        if (
          !forceRefresh &&
          AuthenticationError.isInstance(error) &&
          error.errorResponse?.errorCodes.includes(EXPIRED_ASSERTION)
        ) {
          forceRefresh = true;
          logger.info(
            "the assertion was refused as expired (AADSTS700024); asking for a fresh one",
          );
          continue;
        }
        throw error;
      }
    }
  }

  async #assertion(
    tenantId: string,
    tokenEndpoint: string,
    signal: AbortSignal,
    forceRefresh: boolean,
  ): Promise<string> {
    const context: AssertionContext = {
      clientId: this.#clientId,
      tenantId,
      authorityHost: this.#authorityHost,
      tokenEndpoint,
      abortSignal: signal,
    };
    if (forceRefresh) context.forceRefresh = true;
    let assertion: unknown;
    try {
      assertion = await raceAbort(
        Promise.resolve().then(() => this.#getAssertion(context)),
        signal,
      );
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      if (FedcredError.isInstance(error)) throw error;
      throw new AuthenticationError(
        `The assertion function failed: ${error instanceof Error ? error.message : String(error)}`,
        "assertion_failed",
        { cause: error },
      );
    }
    if (typeof assertion !== "string" || assertion.trim() === "") {
      throw new AuthenticationError(
        `The assertion function returned ${describeValue(assertion)}; it must return the client assertion as a non-empty JWT string.`,
        "invalid_assertion",
      );
    }
    return assertion.trim();
  }

  async #send(
    request: TokenRequest,
    key: TokenKey,
    signal: AbortSignal,
    assertion: string,
  ): Promise<AccessToken> {
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      let status: number;
      let body: string;
      let retryAfter: string | null;
      try {
        ({ status, body, retryAfter } = await sendTokenRequest(
          this.#fetch,
          request,
          signal,
          this.#timeoutInMs,
        ));
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        const reason =
          error instanceof Error && error.name === "TimeoutError"
            ? `timed out after ${this.#timeoutInMs} ms`
            : `failed: ${describeNetworkError(error)}`;
        logger.info(
          `token request tenant=${key.tenantId} scopes=${key.scopesKey} ${reason} duration=${Date.now() - started}ms attempt=${attempt + 1}`,
        );
        if (attempt < this.#maxRetries) {
          await sleep(backoffDelay(attempt, this.#retryDelayInMs, this.#maxRetryDelayInMs), signal);
          continue;
        }
        throw new AuthenticationError(
          `The token request to ${request.url} ${reason} (${attempt + 1} attempts): check the network path to the authority host.`,
          "token_request_failed",
          { cause: error },
        );
      }
      logger.info(
        `token request tenant=${key.tenantId} scopes=${key.scopesKey} status=${status} duration=${Date.now() - started}ms attempt=${attempt + 1}`,
      );
      if (status >= 200 && status < 300) {
        const now = Date.now();
        const response = parseTokenResponse(status, body);
        return createAccessToken(
          response.accessToken,
          now + response.expiresInSeconds * 1000,
          refreshAfter(now, response.expiresInSeconds, response.refreshInSeconds),
        );
      }
      if (RETRYABLE_STATUSES.has(status) && attempt < this.#maxRetries) {
        const requested = parseRetryAfter(retryAfter, Date.now());
        const delay =
          requested === undefined
            ? backoffDelay(attempt, this.#retryDelayInMs, this.#maxRetryDelayInMs)
            : Math.min(requested, this.#maxRetryDelayInMs);
        await sleep(delay, signal);
        continue;
      }
      const error = tokenErrorFromResponse(status, body, tryDecodeJwtPayload(assertion));
      logger.warning(`token request tenant=${key.tenantId} failed: ${error.message}`);
      throw error;
    }
  }
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  if (cause?.code) return `${error.message} (${cause.code})`;
  return error.message;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
