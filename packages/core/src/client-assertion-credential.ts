import { raceAbort } from "./abort.js";
import { createAccessToken, refreshDelay, safetyMargin } from "./access-token.js";
import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { AZURE_AUTHORITY_HOST, AzureAuthorityHosts, normalizeAuthorityHost } from "./authority.js";
import {
  AuthenticationError,
  abortError,
  abortReason,
  CredentialUnavailableError,
  FedcredError,
  invalidConfiguration,
} from "./errors.js";
import { tryDecodeJwtPayload } from "./jwt.js";
import { loadLogger, logger } from "./logger.js";
import {
  type ClientAssertionCredentialOptions,
  ignoredOptionWarnings,
  injectedClientWarnings,
} from "./options.js";
import {
  backoffDelay,
  MAX_TIMER_DELAY_MS,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  sleep,
} from "./retry.js";
import { checkScopes, scopesKey } from "./scopes.js";
import { createScrubber } from "./scrub.js";
import { checkTenantId, multiTenantAuthDisabled, resolveTenant, sameTenant } from "./tenant.js";
import { describeValue, plural, thrownMessage } from "./text.js";
import {
  type AcquireContext,
  type AcquiredToken,
  DEFAULT_MAX_CACHE_ENTRIES,
  TokenCache,
  type TokenKey,
} from "./token-cache.js";
import type { AccessToken, GetTokenOptions, TokenCredential } from "./token-credential.js";
import { type TokenProxyRoute, tokenProxyRoute } from "./token-proxy.js";
import { buildClaims, buildTokenRequest, tokenEndpointFor } from "./token-request.js";
import { parseTokenResponse, tokenErrorFromResponse } from "./token-response.js";
import {
  DEFAULT_TOKEN_STORE_TIMEOUT_MS,
  SharedTokenStore,
  type TokenStore,
  tokenStoreKey,
} from "./token-store.js";
import { withTokenSpan } from "./tracing.js";
import {
  createTransport,
  type DestinationTls,
  isRetryableTransportError,
  type Transport,
} from "./transport.js";
import { VERSION } from "./version.js";

export type { ClientAssertionCredentialOptions };

const DEFAULT_TIMEOUT_MS = 30_000;
const EXPIRED_ASSERTION = 700024;

/** How many distinct `options.tenantId` values a credential remembers as resolved (see `getToken`). */
const MAX_RESOLVED_TENANTS = 10_000;

/** The cap on a token answer's decoded body. */
export const MAX_TOKEN_RESPONSE_BYTES: number = 1024 * 1024;
/** How long a key cools down after a transient failure when the server named no `Retry-After`. */
export const DEFAULT_COOL_DOWN_MS: number = 5_000;

/** A number as it is, anything else described: for options that must be numbers. */
function describeNumber(value: unknown): string {
  return typeof value === "number" ? String(value) : describeValue(value);
}

/** A duration option in ms: a finite number from `min` to 2^31 - 1 (Node's longest timer). */
function duration(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < min ||
    value > MAX_TIMER_DELAY_MS
  ) {
    throw invalidConfiguration(
      `${name} must be a number of milliseconds from ${min} to 2147483647, got ${describeNumber(value)}.`,
    );
  }
  return value;
}

function retryCount(value: unknown, name: string): number {
  if (value === undefined) return 3;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 100) {
    throw invalidConfiguration(
      `${name} must be a whole number from 0 to 100, got ${describeNumber(value)}.`,
    );
  }
  return value;
}

function toAbortSignal(signal: GetTokenOptions["abortSignal"]): AbortSignal | undefined {
  if (signal === undefined || signal === null || signal instanceof AbortSignal) {
    return signal ?? undefined;
  }
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
  /** The configured tenant in lower case: the cache key of the hot path. */
  readonly #tenantKey: string;
  /**
   * Each `options.tenantId` already resolved to itself (allowed) or to the configured tenant
   * (the same id in other letter case), to its lower-case cache key: later calls naming it take
   * the hot path. At most {@link MAX_RESOLVED_TENANTS}; the environment's pin is still read on
   * every call.
   */
  readonly #resolvedTenants = new Map<string, string>();
  readonly #clientId: string;
  readonly #getAssertion: AssertionFunc;
  readonly #authorityHost: string;
  readonly #allowedTenants: ReadonlySet<string>;
  readonly #maxRetries: number;
  readonly #retryDelayInMs: number;
  readonly #maxRetryDelayInMs: number;
  readonly #timeoutInMs: number;
  readonly #userAgent: string;
  readonly #logAccountIdentifiers: boolean;
  readonly #transport: Transport;
  readonly #tokenProxy: TokenProxyRoute | undefined;
  readonly #cache: TokenCache;
  readonly #store: SharedTokenStore | undefined;
  #closed = false;

  /**
   * @param tenantId - The directory (tenant) id of the application: a GUID or a domain.
   * @param clientId - The application (client) id.
   * @param getAssertion - Returns the client assertion (a JWT); see {@link AssertionFunc}.
   * @param options - Every option of `@azure/identity`'s; see {@link ClientAssertionCredentialOptions}.
   * @throws {@link CredentialUnavailableError} (`missing_configuration`, `invalid_configuration`)
   *   naming the parameter or option that is wrong.
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
        `clientId is required: pass the application (client) id of the app registration, got ${describeValue(clientId)}.`,
        "missing_configuration",
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (/[\s\u0000-\u001f\u007f]/.test(clientId)) {
      throw invalidConfiguration(
        `clientId holds whitespace or control characters: ${JSON.stringify(clientId)}. Pass the application (client) id exactly, a GUID such as 11111111-2222-3333-4444-555555555555.`,
      );
    }
    if (typeof getAssertion !== "function") {
      throw invalidConfiguration(
        `getAssertion must be a function that returns the client assertion (a JWT), got ${describeValue(getAssertion)}.`,
      );
    }
    options ??= {};
    this.#tenantId = tenantId;
    this.#tenantKey = tenantId.toLowerCase();
    this.#clientId = clientId;
    this.#getAssertion = getAssertion;
    const configuredHost = options.authorityHost ?? process.env[AZURE_AUTHORITY_HOST];
    this.#authorityHost = normalizeAuthorityHost(
      configuredHost || AzureAuthorityHosts.AzurePublicCloud,
      options.authorityHost !== undefined ? "options.authorityHost" : AZURE_AUTHORITY_HOST,
      tenantId,
    );
    const allowed = options.additionallyAllowedTenants ?? [];
    if (!Array.isArray(allowed)) {
      throw invalidConfiguration(
        'options.additionallyAllowedTenants must be an array of tenant ids (or ["*"]).',
      );
    }
    for (const tenant of allowed) {
      if (tenant !== "*") checkTenantId(tenant, "options.additionallyAllowedTenants");
    }
    this.#allowedTenants = new Set(allowed.map((tenant) => tenant.toLowerCase()));
    const retry = options.retryOptions ?? {};
    this.#maxRetries = retryCount(retry.maxRetries, "options.retryOptions.maxRetries");
    this.#retryDelayInMs = duration(
      retry.retryDelayInMs,
      "options.retryOptions.retryDelayInMs",
      800,
      0,
    );
    this.#maxRetryDelayInMs = duration(
      retry.maxRetryDelayInMs,
      "options.retryOptions.maxRetryDelayInMs",
      60_000,
      0,
    );
    this.#timeoutInMs = duration(
      options.requestTimeoutInMs,
      "options.requestTimeoutInMs",
      DEFAULT_TIMEOUT_MS,
      1,
    );
    const maxEntries = options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw invalidConfiguration(
        `options.maxCacheEntries must be a whole number of at least 1, got ${describeNumber(maxEntries)}.`,
      );
    }
    if (options.fetch !== undefined && typeof options.fetch !== "function") {
      throw invalidConfiguration("options.fetch must be a fetch function.");
    }
    if (options.httpClient !== undefined && typeof options.httpClient?.sendRequest !== "function") {
      throw invalidConfiguration(
        "options.httpClient must be an HttpClient of @azure/core-rest-pipeline (an object with sendRequest).",
      );
    }
    loadLogger();
    const prefix = options.userAgentOptions?.userAgentPrefix;
    if (prefix != null && (typeof prefix !== "string" || !/^[\x20-\x7e]{0,256}$/.test(prefix))) {
      throw invalidConfiguration(
        `options.userAgentOptions.userAgentPrefix must be printable ASCII (a User-Agent header value) of at most 256 characters, got ${typeof prefix === "string" ? JSON.stringify(prefix.slice(0, 80)) : describeValue(prefix)}.`,
      );
    }
    this.#userAgent = `${prefix ? `${prefix} ` : ""}fedcred-core/${VERSION} Node/${process.versions.node}`;
    this.#logAccountIdentifiers = options.loggingOptions?.allowLoggingAccountIdentifiers === true;
    this.#tokenProxy = tokenProxyRoute(options.tokenProxy);
    if (
      this.#tokenProxy?.tls !== undefined &&
      (options.httpClient !== undefined || options.fetch !== undefined)
    ) {
      throw invalidConfiguration(
        `options.tokenProxy.tls cannot be applied by an injected ${options.httpClient !== undefined ? "httpClient" : "fetch"}, which makes its own connections: drop one of them.`,
      );
    }
    // httpClient wins over fetch; an injected one brings its own proxy and TLS handling.
    const fetch = options.httpClient === undefined ? options.fetch : undefined;
    this.#transport = createTransport({
      proxyOptions: options.proxyOptions,
      tlsOptions: options.tlsOptions,
      fetch,
      httpClient: options.httpClient,
    });
    for (const warning of [...ignoredOptionWarnings(options), ...injectedClientWarnings(options)]) {
      logger.warning(warning);
    }
    this.#store = sharedTokenStore(options.tokenStore);
    this.#cache = new TokenCache(
      (key, context) => this.#requestShared(key, context, undefined),
      (key, error) =>
        logger.warning(
          `background refresh failed tenant=${key.tenantId} scopes=${key.scopesKey}: ${error instanceof Error ? error.message : String(error)}; the cached token stays in use`,
        ),
      maxEntries,
    );
  }

  /**
   * Gets an access token for `scopes` (client credentials need `{resource}/.default`), from the
   * cache when a valid one is there. Never throws synchronously: every failure is a rejection.
   *
   * @returns `{ token, expiresOnTimestamp, refreshAfterTimestamp, tokenType: "Bearer" }`, times
   *   in ms since the epoch.
   * @throws {@link AuthenticationError} when Entra or the network refused (code `throttled`
   *   while a failed key cools down), {@link CredentialUnavailableError} for bad input, and an
   *   `AbortError` when `options.abortSignal` aborts.
   *
   * @example
   * ```ts
   * const { token, expiresOnTimestamp } = await credential.getToken("https://storage.azure.com/.default");
   * ```
   */
  getToken(scopes: string | string[], options?: GetTokenOptions | null): Promise<AccessToken> {
    try {
      let enableCae = false;
      let tenantKey = this.#tenantKey;
      if (options != null) {
        if (options.claims || options.abortSignal?.aborted) {
          return this.#getTokenSlow(scopes, options);
        }
        const tenantId = options.tenantId;
        if (tenantId !== undefined && tenantId !== this.#tenantId) {
          const resolved = this.#resolvedTenants.get(tenantId as string);
          if (resolved === undefined || multiTenantAuthDisabled()) {
            return this.#getTokenSlow(scopes, options);
          }
          tenantKey = resolved;
        }
        enableCae = options.enableCae === true;
      }
      const key =
        typeof scopes === "string"
          ? scopes
          : Array.isArray(scopes) && scopes.length === 1
            ? (scopes[0] as string)
            : undefined;
      const entry =
        key === undefined
          ? undefined
          : this.#cache.valid(this.#cache.get(tenantKey, enableCae, key));
      return entry !== undefined ? entry.promise : this.#getTokenSlow(scopes, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Drops every cached token, ends cool-downs, stops background work and closes idle
   * connections; later `getToken` calls reject with `credential_closed`.
   *
   * @example
   * ```ts
   * await credential.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear(this.#closedError());
    this.#transport.close();
  }

  async #getTokenSlow(
    scopes: string | string[],
    options: GetTokenOptions | null | undefined,
  ): Promise<AccessToken> {
    options ??= {};
    if (this.#closed) throw this.#closedError();
    const list = checkScopes(scopes);
    const requested = options.tenantId;
    const tenantId =
      requested === undefined || requested === null
        ? this.#tenantId
        : resolveTenant(this.#tenantId, this.#allowedTenants, requested);
    if (
      typeof requested === "string" &&
      (tenantId === requested || sameTenant(requested, this.#tenantId)) &&
      this.#resolvedTenants.size < MAX_RESOLVED_TENANTS
    ) {
      this.#resolvedTenants.set(requested, tenantId.toLowerCase());
    }
    const signal = toAbortSignal(options.abortSignal);
    if (signal?.aborted) throw abortError();
    const enableCae = options.enableCae === true;
    const key: TokenKey = {
      tenantId,
      tenantKey: tenantId.toLowerCase(),
      enableCae,
      scopes: list,
      scopesKey: scopesKey(list),
    };
    const tracingOptions = options.tracingOptions;
    if (options.claims) {
      const claims = buildClaims(options.claims, enableCae);
      return this.#cache.acquireAlone(key, signal, (k, context) =>
        this.#requestToken(k, claims, context, tracingOptions),
      );
    }
    const cached = this.#cache.valid(this.#cache.find(key));
    if (cached !== undefined) return cached.token;
    return this.#cache.acquire(
      key,
      signal,
      tracingOptions === undefined
        ? undefined
        : (k, context) => this.#requestShared(k, context, tracingOptions),
    );
  }

  #closedError(): CredentialUnavailableError {
    return new CredentialUnavailableError(
      "The credential was closed: create a new ClientAssertionCredential to get tokens.",
      "credential_closed",
    );
  }

  /** A token shared by the fleet: from the token store, else from Entra under the store's lease. */
  #requestShared(
    key: TokenKey,
    context: AcquireContext,
    tracingOptions: GetTokenOptions["tracingOptions"],
  ): Promise<AcquiredToken> {
    const request = (): Promise<AcquiredToken> =>
      this.#requestToken(key, buildClaims(undefined, key.enableCae), context, tracingOptions);
    const store = this.#store;
    if (store === undefined) return request();
    return tokenStoreKey(this.#authorityHost, this.#clientId, key).then((storeKey) =>
      store.acquire(storeKey, context.signal, context.background, request),
    );
  }

  /** One token request, traced: the assertion, the POST, its retries, and a fresh assertion after AADSTS700024. */
  #requestToken(
    key: TokenKey,
    claims: string | undefined,
    context: AcquireContext,
    tracingOptions: GetTokenOptions["tracingOptions"],
  ): Promise<AcquiredToken> {
    return withTokenSpan(tracingOptions, () => this.#requestTokenUntraced(key, claims, context));
  }

  async #requestTokenUntraced(
    key: TokenKey,
    claims: string | undefined,
    context: AcquireContext,
  ): Promise<AcquiredToken> {
    const tokenEndpoint = tokenEndpointFor(this.#authorityHost, key.tenantId);
    let forceRefresh = false;
    for (;;) {
      const assertion = await this.#assertion(
        key.tenantId,
        tokenEndpoint,
        context.signal,
        forceRefresh,
      );
      try {
        return await this.#send(key, tokenEndpoint, claims, assertion, context);
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
        `The assertion function failed: ${thrownMessage(error)}`,
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

  /** Posts the token request, retrying transient failures; the lifetime counts from when the successful attempt was sent. */
  async #send(
    key: TokenKey,
    tokenEndpoint: string,
    claims: string | undefined,
    assertion: string,
    { signal, background }: AcquireContext,
  ): Promise<AcquiredToken> {
    const body = buildTokenRequest({
      tokenEndpoint,
      clientId: this.#clientId,
      scopes: key.scopes,
      assertion,
      claims,
    }).body;
    const requestUrl =
      this.#tokenProxy === undefined
        ? tokenEndpoint
        : tokenEndpointFor(this.#tokenProxy.base, key.tenantId);
    let scrub: ((text: string) => string) | undefined;
    const scrubber = (): ((text: string) => string) => {
      scrub ??= createScrubber(assertion);
      return scrub;
    };
    for (let attempt = 1; ; attempt++) {
      const clientRequestId = globalThis.crypto.randomUUID();
      const sentAt = performance.now();
      const sentAtWall = Date.now();
      const log = `token request tenant=${key.tenantId} scopes=${key.scopesKey} client-request-id=${clientRequestId} attempt=${attempt}`;
      // Asked per attempt only when it is a function (a CA that rotates); no await otherwise.
      const proxyTls = this.#tokenProxy?.tls;
      const tls = typeof proxyTls === "function" ? await this.#tokenProxyTls(proxyTls) : proxyTls;
      let response: Awaited<ReturnType<Transport["send"]>>;
      try {
        response = await this.#transport.send({
          url: requestUrl,
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded;charset=UTF-8",
            accept: "application/json",
            "user-agent": this.#userAgent,
            "client-request-id": clientRequestId,
            "return-client-request-id": "true",
          },
          body,
          signal,
          timeoutInMs: this.#timeoutInMs,
          maxBodyBytes: MAX_TOKEN_RESPONSE_BYTES,
          background,
          clientRequestId,
          tls,
        });
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        const message = error instanceof Error ? scrubber()(error.message) : String(error);
        logger.info(`${log} failed: ${message} duration=${durationSince(sentAt)}`);
        if (!isRetryableTransportError(error)) {
          throw scrubbed(error, scrubber(), {
            clientRequestId,
            retryAfterInMs: DEFAULT_COOL_DOWN_MS,
          });
        }
        if (attempt <= this.#maxRetries) {
          await sleep(this.#backoff(attempt), signal, background);
          continue;
        }
        throw new AuthenticationError(
          `${message.replace(/\.$/, "")} (${plural(attempt, "attempt")}).`,
          "token_request_failed",
          {
            clientRequestId,
            retryAfterInMs: DEFAULT_COOL_DOWN_MS,
            cause: scrubbed(error, scrubber(), { clientRequestId }),
          },
        );
      }
      const { status } = response;
      logger.info(`${log} status=${status} duration=${durationSince(sentAt)}`);
      if (status >= 200 && status < 300) {
        let parsed: ReturnType<typeof parseTokenResponse>;
        try {
          parsed = parseTokenResponse(status, response.body);
        } catch (error) {
          throw scrubbed(error, scrubber(), { clientRequestId });
        }
        return this.#acquired(parsed.accessToken, parsed.expiresInMs, parsed.refreshInMs, {
          sentAt,
          sentAtWall,
        });
      }
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      if (RETRYABLE_STATUSES.has(status) && attempt <= this.#maxRetries) {
        const delay =
          retryAfter === undefined
            ? this.#backoff(attempt)
            : Math.min(retryAfter, this.#maxRetryDelayInMs);
        await sleep(delay, signal, background);
        continue;
      }
      const error = tokenErrorFromResponse({
        status,
        body: response.body,
        url: requestUrl,
        claims: tryDecodeJwtPayload(assertion),
        scrub: scrubber(),
        clientRequestId,
        attempts: attempt,
        describeRefusal: this.#getAssertion.describeRefusal,
      });
      logger.warning(`token request tenant=${key.tenantId} failed: ${error.message}`);
      throw scrubbed(error, scrubber(), {
        clientRequestId,
        retryAfterInMs: retryAfter ?? DEFAULT_COOL_DOWN_MS,
      });
    }
  }

  /** The token proxy's TLS settings from its function, asked before each attempt (CA rotation). */
  async #tokenProxyTls(
    tls: () => DestinationTls | Promise<DestinationTls>,
  ): Promise<DestinationTls | undefined> {
    try {
      return await tls();
    } catch (error) {
      if (FedcredError.isInstance(error)) throw error;
      throw invalidConfiguration(`options.tokenProxy.tls failed: ${thrownMessage(error)}`, {
        cause: error,
      });
    }
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt - 1, this.#retryDelayInMs, this.#maxRetryDelayInMs);
  }

  #acquired(
    accessToken: string,
    lifetimeInMs: number,
    refreshInMs: number | undefined,
    sent: { sentAt: number; sentAtWall: number },
  ): AcquiredToken {
    const refreshInMsAfterSend = refreshDelay(lifetimeInMs, refreshInMs);
    if (this.#logAccountIdentifiers) logAccount(accessToken);
    return {
      token: createAccessToken(
        accessToken,
        sent.sentAtWall + lifetimeInMs,
        sent.sentAtWall + refreshInMsAfterSend,
      ),
      serveUntil: sent.sentAt + lifetimeInMs - safetyMargin(lifetimeInMs),
      refreshAt: sent.sentAt + refreshInMsAfterSend,
    };
  }
}

/** The credential's use of `options.tokenStore`, checked. */
function sharedTokenStore(store: TokenStore | undefined): SharedTokenStore | undefined {
  if (store === undefined || store === null) return undefined;
  if (
    typeof store !== "object" ||
    typeof store.get !== "function" ||
    typeof store.set !== "function" ||
    typeof store.lease !== "function"
  ) {
    throw invalidConfiguration(
      `options.tokenStore must be a TokenStore (an object with get, set and lease, such as redisTokenStore() of @fedcred/redis), got ${describeValue(store)}.`,
    );
  }
  const leaseInMs = duration(store.leaseInMs ?? null, "options.tokenStore.leaseInMs", 0, 1);
  const timeoutInMs = duration(
    store.operationTimeoutInMs,
    "options.tokenStore.operationTimeoutInMs",
    DEFAULT_TOKEN_STORE_TIMEOUT_MS,
    1,
  );
  return new SharedTokenStore(store, timeoutInMs, leaseInMs);
}

/**
 * `error` as the caller gets it: the assertion scrubbed from its message (a hostile `Location`,
 * `Content-Encoding` or `token_type` could echo it), with the request's id, and for a failure
 * that pauses its key, the pause (a proxy's 429, say, is no less a failure).
 */
function scrubbed(
  error: unknown,
  scrub: (text: string) => string,
  details: { clientRequestId: string; retryAfterInMs?: number },
): unknown {
  if (!AuthenticationError.isInstance(error)) return error;
  const message = scrub(error.message);
  const retryAfterInMs =
    error.retryAfterInMs ??
    (error.code === "token_request_failed" ? details.retryAfterInMs : undefined);
  if (
    message === error.message &&
    retryAfterInMs === error.retryAfterInMs &&
    error.clientRequestId !== undefined
  ) {
    return error;
  }
  return new AuthenticationError(message, error.code, {
    statusCode: error.statusCode,
    errorResponse: error.errorResponse,
    clientRequestId: error.clientRequestId ?? details.clientRequestId,
    retryAfterInMs,
    ...(message === error.message ? { cause: error.cause } : {}),
  });
}

function durationSince(start: number): string {
  return `${Math.round(performance.now() - start)}ms`;
}

/** Logs whom Entra issued the token to (`loggingOptions.allowLoggingAccountIdentifiers`), as `@azure/identity` does. */
function logAccount(accessToken: string): void {
  const claims = tryDecodeJwtPayload(accessToken);
  // What the token says is the server's word: print only what looks like an id.
  const field = (name: string): string => {
    const value = claims?.[name];
    if (value === undefined) return "(none)";
    return typeof value === "string" && /^[0-9A-Za-z._@-]{1,128}$/.test(value)
      ? value
      : "(not an id)";
  };
  logger.info(
    `[Authenticated account] Client ID: ${field("appid")}. Tenant ID: ${field("tid")}. Object ID: ${field("oid")}.`,
  );
}
