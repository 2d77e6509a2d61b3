import type { RetryOptions } from "./retry.js";
import type { FetchLike } from "./token-request.js";

/**
 * Options of {@link ClientAssertionCredential}; the same names as `@azure/identity`'s where
 * they exist there.
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
   * The Entra ID authority host. Default: `AZURE_AUTHORITY_HOST`, else
   * `https://login.microsoftonline.com`. A bare host gets `https://`; plain `http` is
   * accepted only for loopback hosts (local emulators).
   */
  authorityHost?: string;
  /** Tenants a `getToken` call may name besides the configured one; `"*"` allows any. */
  additionallyAllowedTenants?: string[];
  /** Retries of throttled (429), failed (5xx), timed-out (408) and unanswered requests. */
  retryOptions?: RetryOptions;
  /** A `fetch` implementation, for proxies and tests. Default: the global `fetch`. */
  fetch?: FetchLike;
  /** How long one attempt of a token request may take. Default 30 000 ms. */
  requestTimeoutInMs?: number;
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
  /** The private key of the client certificate (PEM). */
  key?: string | Buffer | Array<Buffer | import("node:crypto").KeyObject> | undefined;
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
