import type { RetryOptions } from "./retry.js";
import type { TokenProxyOptions } from "./token-proxy.js";
import type { TokenStore } from "./token-store.js";
import type { FetchLike } from "./transport-fetch.js";

/**
 * Options of {@link ClientAssertionCredential}: every option of `@azure/identity`'s
 * `ClientAssertionCredentialOptions` (4.14), so a value of that type fits as is, plus fedcred's
 * own `fetch`, `requestTimeoutInMs` and `maxCacheEntries`.
 *
 * Each option says what fedcred does with it. Options fedcred accepts but cannot honour
 * (`tokenCachePersistenceOptions`, `additionalPolicies`, `redirectOptions`, `telemetryOptions`,
 * `agent`, `allowInsecureConnection` and some `loggingOptions`) are logged once per credential
 * at warning level, naming the option and why it has no effect.
 *
 * @example
 * ```ts
 * import type { ClientAssertionCredentialOptions } from "@fedcred/core";
 *
 * const options: ClientAssertionCredentialOptions = {
 *   authorityHost: "https://login.microsoftonline.us",
 *   additionallyAllowedTenants: ["*"],
 *   retryOptions: { maxRetries: 5 },
 *   requestTimeoutInMs: 10_000,
 * };
 * ```
 */
export interface ClientAssertionCredentialOptions {
  /**
   * Honoured. The Entra ID authority host. Default: `AZURE_AUTHORITY_HOST`, else
   * `https://login.microsoftonline.com`. A bare host gets `https://`; plain `http` is
   * accepted only for loopback hosts (local emulators).
   */
  authorityHost?: string;
  /**
   * Honoured. Tenants a `getToken` call may name besides the configured one; `"*"` allows any.
   * `AZURE_IDENTITY_DISABLE_MULTITENANTAUTH=true` pins the configured tenant.
   */
  additionallyAllowedTenants?: string[];
  /**
   * Honoured: `maxRetries` (default 3), `retryDelayInMs` (default 800) and `maxRetryDelayInMs`
   * (default 60 000, also the cap on `Retry-After`), for throttled (429), failed (5xx),
   * timed-out (408) and unanswered token requests. 400 and 401 are never retried.
   */
  retryOptions?: RetryOptions;
  /**
   * Honoured. The proxy for token requests, instead of `HTTPS_PROXY`, `ALL_PROXY`,
   * `HTTP_PROXY` and `NO_PROXY`. Loopback targets are never proxied.
   */
  proxyOptions?: ProxySettings;
  /**
   * Honoured. TLS settings for the connection to the token endpoint: certificate authorities
   * to trust (`ca`) and a client certificate (`cert` and `key`, or `pfx`, with `passphrase`).
   */
  tlsOptions?: TlsSettings;
  /**
   * fedcred's own. Sends every token request to another origin, with its own TLS settings
   * (the only CAs trusted there, the server name checked): `{url}/{tenantId}/oauth2/v2.0/token`
   * instead of the authority host's. The AKS identity-binding token proxy uses it; see
   * {@link TokenProxyOptions}. Refused beside an injected `fetch` or `httpClient` when it sets
   * `tls`, which they cannot apply.
   */
  tokenProxy?: TokenProxyOptions;
  /** Honoured: `userAgentPrefix` goes in front of fedcred's `User-Agent`. */
  userAgentOptions?: UserAgentOptions;
  /**
   * `allowLoggingAccountIdentifiers` is honoured; the other fields are accepted and warned
   * about when set: see {@link LoggingOptions}.
   */
  loggingOptions?: LoggingOptions;
  /**
   * Honoured. Sends every token request through this client (`createDefaultHttpClient()` of
   * `@azure/core-rest-pipeline` fits) rather than `fetch`. fedcred's transport rules still hold:
   * redirects are not followed and answers are read with a size cap.
   */
  httpClient?: HttpClientLike;
  /**
   * Accepted, no effect needed: fedcred never does instance discovery or authority validation
   * (no request to `login.microsoft.com`), so it behaves as `true` asks whatever the value.
   * Pick a trustworthy `authorityHost`.
   */
  disableInstanceDiscovery?: boolean;
  /**
   * Accepted, not honoured: fedcred caches tokens in memory, per credential. Warned about when
   * `enabled` is `true`. To share tokens between processes, set `tokenStore`.
   */
  tokenCachePersistenceOptions?: {
    enabled?: boolean;
    name?: string;
    unsafeAllowUnencryptedStorage?: boolean;
  };
  /**
   * Accepted, not honoured: token requests do not go through an Azure SDK pipeline, so no
   * policy runs. Warned about when not empty. To see or change requests, pass an
   * `httpClient` that wraps another.
   */
  additionalPolicies?: ReadonlyArray<{
    policy: { name: string };
    position: "perCall" | "perRetry";
  }>;
  /**
   * Accepted, not honoured: fedcred never follows redirects (a 3xx is an error naming the
   * status and the `Location` origin), so the client assertion cannot be carried elsewhere.
   * Warned about unless `maxRetries` is 0, which asks for what fedcred does anyway.
   */
  redirectOptions?: { maxRetries?: number; allowCrossOriginRedirects?: boolean };
  /**
   * Accepted, not honoured: the request id travels in `client-request-id`, the header Entra
   * echoes and Microsoft support asks for. Warned about when `clientRequestIdHeaderName` is set.
   */
  telemetryOptions?: { clientRequestIdHeaderName?: string };
  /**
   * Accepted, not honoured: fedcred's transport manages its own connections, so its proxy,
   * TLS and loopback rules always hold. Warned about when set; use `proxyOptions`,
   * `tlsOptions` or `httpClient` instead.
   */
  agent?: { destroy(): void };
  /**
   * Accepted, not honoured: plain `http` stays limited to loopback authority hosts (local
   * emulators), whatever this says. Warned about when `true`.
   */
  allowInsecureConnection?: boolean;
  /**
   * fedcred only. A `fetch` implementation, for proxies and tests. Default: the global
   * `fetch`. Not used when `httpClient` is set.
   */
  fetch?: FetchLike;
  /** fedcred only. How long one attempt of a token request may take. Default 30 000 ms. */
  requestTimeoutInMs?: number;
  /**
   * fedcred only. The most tokens the credential keeps in memory (one per tenant, scopes and
   * CAE mode). Default 10 000; when full, the least recently used token is evicted first.
   */
  maxCacheEntries?: number;
  /**
   * fedcred only. A token store shared by processes (a fleet), behind the in-process cache:
   * on an in-process miss the credential asks the store before Entra, and one process of the
   * fleet at a time asks Entra for a key (a lease) while the others wait for its token. A store
   * that fails, hangs or returns garbage is logged once and bypassed, never failing a caller.
   * Cache hits never touch it. Claims-challenge tokens are never shared. See {@link TokenStore};
   * `redisTokenStore` of `@fedcred/redis` is one.
   */
  tokenStore?: TokenStore;
}

/**
 * The `userAgentOptions` of {@link ClientAssertionCredentialOptions}: the shape of
 * `@azure/core-rest-pipeline`'s `UserAgentPolicyOptions`.
 *
 * @example
 * ```ts
 * import type { UserAgentOptions } from "@fedcred/core";
 *
 * const userAgentOptions: UserAgentOptions = { userAgentPrefix: "billing-service/2.3" };
 * ```
 */
export interface UserAgentOptions {
  /** Honoured: put in front of fedcred's `User-Agent`, separated by a space. */
  userAgentPrefix?: string;
}

/**
 * The `loggingOptions` of {@link ClientAssertionCredentialOptions}: the shape of
 * `@azure/identity`'s (its own fields and `@azure/core-rest-pipeline`'s `LogPolicyOptions`).
 * fedcred logs through `@azure/logger` as `azure:fedcred` (`AZURE_LOG_LEVEL=info` shows one
 * line per token request) and never logs an assertion, a token, a header or a query value.
 *
 * @example
 * ```ts
 * import type { LoggingOptions } from "@fedcred/core";
 *
 * const loggingOptions: LoggingOptions = { allowLoggingAccountIdentifiers: true };
 * ```
 */
export interface LoggingOptions {
  /**
   * Honoured: logs the `appid`, `tid` and `oid` claims of each issued access token at info
   * level (never the token).
   */
  allowLoggingAccountIdentifiers?: boolean;
  /**
   * Accepted, not honoured: fedcred never logs personal data, assertions or tokens. Warned
   * about when `true`.
   */
  enableUnsafeSupportLogging?: boolean;
  /**
   * Accepted, not honoured: fedcred logs no header values, so there is nothing to allow.
   * Warned about when not empty.
   */
  additionalAllowedHeaderNames?: readonly string[];
  /**
   * Accepted, not honoured: fedcred logs no query strings (token requests carry none). Warned
   * about when not empty.
   */
  additionalAllowedQueryParameters?: readonly string[];
  /**
   * Accepted, not honoured: fedcred logs through `@azure/logger`'s `AzureLogger` (route it with
   * `setLogLevel` and `AzureLogger.log`). Warned about when set.
   */
  logger?: (...args: never[]) => unknown;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function isNonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

/**
 * One message per option that is set but has no effect in fedcred, naming the option and why,
 * in the order of {@link ClientAssertionCredentialOptions}. The credential logs each once at
 * warning level.
 *
 * @example
 * ```ts
 * import { ignoredOptionWarnings } from "./options.js";
 *
 * ignoredOptionWarnings({ redirectOptions: { maxRetries: 5 } });
 * // ["options.redirectOptions has no effect: fedcred never follows redirects, ..."]
 * ```
 */
export function ignoredOptionWarnings(options: ClientAssertionCredentialOptions): string[] {
  const warnings: string[] = [];
  const warn = (option: string, why: string): void => {
    warnings.push(`options.${option} has no effect: ${why}`);
  };
  const logging = options.loggingOptions;
  if (logging?.enableUnsafeSupportLogging === true) {
    warn(
      "loggingOptions.enableUnsafeSupportLogging",
      "fedcred never logs personal data, assertions or tokens; AZURE_LOG_LEVEL=info logs one line per token request.",
    );
  }
  if (isNonEmpty(logging?.additionalAllowedHeaderNames)) {
    warn(
      "loggingOptions.additionalAllowedHeaderNames",
      "fedcred logs no header values, so there is nothing to allow.",
    );
  }
  if (isNonEmpty(logging?.additionalAllowedQueryParameters)) {
    warn(
      "loggingOptions.additionalAllowedQueryParameters",
      "fedcred logs no query strings, and its token requests carry none.",
    );
  }
  if (isSet(logging?.logger)) {
    warn(
      "loggingOptions.logger",
      "fedcred logs through @azure/logger as azure:fedcred; route it with setLogLevel and AzureLogger.log.",
    );
  }
  if (options.tokenCachePersistenceOptions?.enabled === true) {
    warn(
      "tokenCachePersistenceOptions",
      "fedcred caches tokens in memory, per credential, and persists none; to share tokens between processes, set tokenStore (@fedcred/redis has one).",
    );
  }
  if (isNonEmpty(options.additionalPolicies)) {
    warn(
      "additionalPolicies",
      "fedcred's token requests do not go through an Azure SDK pipeline, so no policy runs; to see or change requests, pass an httpClient that wraps another.",
    );
  }
  const redirects = options.redirectOptions;
  if (isSet(redirects) && redirects?.maxRetries !== 0) {
    warn(
      "redirectOptions",
      "fedcred never follows redirects, so the token request cannot carry the client assertion elsewhere.",
    );
  }
  if (isSet(options.telemetryOptions?.clientRequestIdHeaderName)) {
    warn(
      "telemetryOptions",
      "the request id travels in client-request-id, the header Entra echoes and Microsoft support asks for.",
    );
  }
  if (isSet(options.agent)) {
    warn(
      "agent",
      "fedcred's transport manages its own connections so that its proxy, TLS and loopback rules hold; use proxyOptions, tlsOptions or httpClient.",
    );
  }
  if (options.allowInsecureConnection === true) {
    warn(
      "allowInsecureConnection",
      "plain http stays limited to loopback authority hosts (local emulators); every other authority host needs https.",
    );
  }
  return warnings;
}

/**
 * One message for each of `proxyOptions` and `tlsOptions` set beside an injected `httpClient` or
 * `fetch`: that client makes its own connections, so fedcred's settings do not reach it.
 *
 * @example
 * ```ts
 * import { injectedClientWarnings } from "./options.js";
 *
 * injectedClientWarnings({ fetch, proxyOptions: { host: "http://proxy", port: 3128 } });
 * // ["options.proxyOptions has no effect: token requests go through options.fetch, ..."]
 * ```
 */
export function injectedClientWarnings(options: ClientAssertionCredentialOptions): string[] {
  const injected =
    options.httpClient !== undefined ? "httpClient" : options.fetch ? "fetch" : undefined;
  if (injected === undefined) return [];
  return (["proxyOptions", "tlsOptions"] as const)
    .filter((name) => isSet(options[name]))
    .map(
      (name) =>
        `options.${name} has no effect: token requests go through options.${injected}, which makes its own connections; configure the proxy and TLS on it.`,
    );
}

/**
 * A proxy to send requests through: the shape of `@azure/core-rest-pipeline`'s `ProxySettings`.
 *
 * @example
 * ```ts
 * import type { ProxySettings } from "@fedcred/core";
 *
 * const proxyOptions: ProxySettings = { host: "http://proxy.corp.example", port: 3128 };
 * ```
 */
export interface ProxySettings {
  /** The proxy's URL without port, scheme included: `http://proxy.corp.example`. */
  host: string;
  /** The proxy's port. */
  port: number;
  /** The user name, when the proxy requires authentication. */
  username?: string;
  /** The password, when the proxy requires authentication. Never logged. */
  password?: string;
}

/**
 * TLS settings for the connection to the token endpoint: the shape of
 * `@azure/core-rest-pipeline`'s `TlsSettings` (PEM strings or buffers).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import type { TlsSettings } from "@fedcred/core";
 *
 * const tlsOptions: TlsSettings = { ca: readFileSync("/etc/ssl/corp-root.pem") };
 * ```
 */
export interface TlsSettings {
  /** Certificate authorities to trust besides Node's own. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** A client certificate chain (PEM). */
  cert?: string | Buffer | Array<string | Buffer> | undefined;
  /** The private keys of the client certificate: PEM, or `{ pem, passphrase }` objects. */
  key?: string | Buffer | Array<string | Buffer | import("node:tls").KeyObject> | undefined;
  /** The passphrase of `key` or `pfx`. */
  passphrase?: string | undefined;
  /** A client certificate and key as PKCS#12. */
  pfx?: string | Buffer | Array<string | Buffer | import("node:tls").PxfObject> | undefined;
}

/**
 * The headers of a {@link PipelineRequestLike} or {@link PipelineResponseLike}: the part of
 * `@azure/core-rest-pipeline`'s `HttpHeaders` fedcred uses.
 *
 * @example
 * ```ts
 * import type { HttpHeadersLike } from "@fedcred/core";
 *
 * const contentType = (headers: HttpHeadersLike) => headers.get("content-type");
 * ```
 */
export interface HttpHeadersLike {
  get(name: string): string | undefined;
  has(name: string): boolean;
  set(name: string, value: string | number | boolean): void;
}

/**
 * The request fedcred gives an injected `httpClient`: the fields of
 * `@azure/core-rest-pipeline`'s `PipelineRequest` that fedcred sets.
 *
 * @example
 * ```ts
 * import type { PipelineRequestLike } from "@fedcred/core";
 *
 * const describe = (request: PipelineRequestLike) => `${request.method} ${request.url}`;
 * ```
 */
export interface PipelineRequestLike {
  url: string;
  method: string;
  headers: HttpHeadersLike;
  /** Milliseconds; 0 means none. */
  timeout: number;
  withCredentials: boolean;
  requestId: string;
  body?: unknown;
  streamResponseStatusCodes?: Set<number>;
  abortSignal?: { readonly aborted: boolean } | undefined;
  allowInsecureConnection?: boolean;
}

/**
 * What an injected `httpClient` answers: the fields of `@azure/core-rest-pipeline`'s
 * `PipelineResponse` that fedcred reads.
 *
 * @example
 * ```ts
 * import type { PipelineResponseLike } from "@fedcred/core";
 *
 * const ok = (response: PipelineResponseLike) => response.status === 200;
 * ```
 */
export interface PipelineResponseLike {
  status: number;
  headers: { get(name: string): string | undefined };
  bodyAsText?: string | null;
  readableStreamBody?: NodeJS.ReadableStream;
}

/**
 * A transport in the shape of `@azure/core-rest-pipeline`'s `HttpClient`, the Azure SDK's way to
 * inject one (`createDefaultHttpClient()` fits). fedcred asks it never to follow redirects and
 * reads streamed bodies with its own size cap.
 *
 * @example
 * ```ts
 * import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
 * import { ClientAssertionCredential } from "@fedcred/core";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, {
 *   httpClient: createDefaultHttpClient(),
 * });
 * ```
 */
export interface HttpClientLike {
  sendRequest(request: PipelineRequestLike): Promise<PipelineResponseLike>;
}
