import { raceAbort } from "./abort.js";
import { abortReason, invalidConfiguration } from "./errors.js";
import { checkMetadataServiceUrl } from "./metadata-endpoint.js";
import type { HttpClientLike, ProxySettings, TlsSettings } from "./options.js";
import { type ProxyRules, readProxyRules } from "./proxy.js";
import { MAX_TIMER_DELAY_MS } from "./retry.js";
import {
  bodyTooLarge,
  connectionFailure,
  displayUrl,
  type RequestContext,
  redirectFollowed,
  redirectRefused,
  timedOut,
  undecodableBody,
} from "./transport-errors.js";
import { type FetchLike, sendWithFetch } from "./transport-fetch.js";
import { sendWithHttpClient } from "./transport-http-client.js";
import { NodeConnections, type OutgoingRequest } from "./transport-node.js";
import { type DestinationTls, TlsContexts } from "./transport-tls.js";
import { TunnelConnections } from "./transport-tunnel.js";
import { isLoopbackHostname } from "./url-safety.js";

export { isRetryableTransportError } from "./transport-errors.js";
export type { FetchLike } from "./transport-fetch.js";
export type { DestinationTls } from "./transport-tls.js";

/**
 * How a {@link Transport} connects. `proxyOptions` and `tlsOptions` apply to fedcred's own
 * connections; an injected `fetch` or `httpClient` brings its own proxy and TLS handling.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { createTransport, type TransportOptions } from "@fedcred/core";
 *
 * const options: TransportOptions = {
 *   proxyOptions: { host: "http://proxy.corp.example", port: 3128 },
 *   tlsOptions: { ca: readFileSync("/etc/ssl/corp-root.pem") },
 * };
 * const transport = createTransport(options);
 * ```
 */
export interface TransportOptions {
  /** The proxy for every request but those to loopback hosts and `NO_PROXY`; beats the environment. */
  proxyOptions?: ProxySettings | undefined;
  /** CAs trusted besides Node's own, and a client certificate, for every destination. */
  tlsOptions?: TlsSettings | undefined;
  /** A `fetch` to send every request with (tests, custom stacks). */
  fetch?: FetchLike | undefined;
  /** An `@azure/core-rest-pipeline` `HttpClient` to send every request with. */
  httpClient?: HttpClientLike | undefined;
  /** Where `HTTPS_PROXY`, `ALL_PROXY`, `HTTP_PROXY` and `NO_PROXY` are read, once. Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * One request for {@link Transport.send}.
 *
 * @example
 * ```ts
 * import type { HttpRequest } from "@fedcred/core";
 *
 * const request: HttpRequest = {
 *   url: "https://sts.example/token",
 *   method: "POST",
 *   headers: { "content-type": "application/x-www-form-urlencoded" },
 *   body: "grant_type=client_credentials",
 *   timeoutInMs: 10_000,
 *   maxBodyBytes: 1024 * 1024,
 * };
 * ```
 */
export interface HttpRequest {
  /** `https:`, or `http:` to a literal loopback host (`localhost`, `127.x.x.x`, `[::1]`). */
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string> | undefined;
  body?: string | undefined;
  /** Aborting rejects with the signal's reason (an `AbortError` unless it is an error) at any stage. */
  signal?: AbortSignal | undefined;
  /** One deadline for connecting, the headers and the whole body. */
  timeoutInMs: number;
  /** The cap on the body's bytes after `content-encoding` is undone. */
  maxBodyBytes: number;
  /** `true`: the request's socket and timer are unref'd, so it never keeps the process alive. */
  background?: boolean | undefined;
  /** Copied into every `AuthenticationError` the request fails with. */
  clientRequestId?: string | undefined;
  /** TLS settings for this destination only: its CA (the only one trusted) and server name. */
  tls?: DestinationTls | undefined;
  /**
   * `true` for a request to a cloud's metadata or identity service on the host (Azure IMDS, App
   * Service's identity endpoint, GCP's metadata server): plain http is allowed also to link-local
   * addresses (`169.254.x.x`) and `metadata.google.internal`, and the request never goes through
   * a proxy (as the Azure and Google SDKs send them: a proxy would answer for another machine).
   */
  metadataService?: boolean | undefined;
  /**
   * Where the URL comes from, named where an error asks to fix it (a redirect, a certificate
   * for another host): such as `"options.url"` or `"ACTIONS_ID_TOKEN_REQUEST_URL"`. Default
   * `"authorityHost"`.
   */
  urlSource?: string | undefined;
}

/**
 * An answer of {@link Transport.send}, its body read whole. Every status but 3xx resolves.
 *
 * @example
 * ```ts
 * import type { HttpResponse } from "@fedcred/core";
 *
 * const json = (response: HttpResponse): unknown =>
 *   response.headers.get("content-type")?.includes("json") ? JSON.parse(response.body) : undefined;
 * ```
 */
export interface HttpResponse {
  status: number;
  headers: { get(name: string): string | null };
  /** The decoded body as UTF-8 text. */
  body: string;
}

/**
 * The one way fedcred sends HTTP requests: redirects refused, bodies capped, one deadline,
 * proxies from options or the environment, TLS settings per destination.
 *
 * @example
 * ```ts
 * import { createTransport, type Transport } from "@fedcred/core";
 *
 * const transport: Transport = createTransport();
 * const response = await transport.send({
 *   url: "https://example.com/", method: "GET", timeoutInMs: 5_000, maxBodyBytes: 65_536,
 * });
 * transport.close();
 * ```
 */
export interface Transport {
  /**
   * Sends one request and reads its answer. Rejects with an `AuthenticationError`
   * (`redirect_refused`, `invalid_token_response` for a body over the cap or that does not
   * decode, `tls_error`, `token_request_failed` for network failures and timeouts), a
   * `CredentialUnavailableError` (`invalid_configuration`) for a URL or proxy it will not use,
   * or the abort reason. {@link isRetryableTransportError} tells which are worth retrying.
   */
  send(request: HttpRequest): Promise<HttpResponse>;
  /** Destroys every pooled connection and the requests still using one. */
  close(): void;
}

/**
 * The URL of a request, refused unless it is https, or http to a literal loopback host (or, for a
 * `metadataService` request, a metadata host).
 */
function checkUrl(value: string, metadataService: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidConfiguration("The request URL is not an absolute URL.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalidConfiguration(
      `fedcred sends requests over https only (plain http to loopback hosts), not ${url.protocol.slice(0, -1)}.`,
    );
  }
  if (metadataService) {
    checkMetadataServiceUrl(url, displayUrl(url));
  } else if (url.protocol === "http:" && !isLoopbackHostname(url.hostname)) {
    throw invalidConfiguration(
      `fedcred sends plain http only to loopback hosts (localhost, 127.x.x.x, [::1]): use https for ${displayUrl(url)}.`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidConfiguration(
      `The URL of ${displayUrl(url)} must not hold a user name or password.`,
    );
  }
  return url;
}

/**
 * Creates the transport every fedcred request goes through. It reads the proxy variables once,
 * now, and imports `node:https`, `node:zlib` and (for proxies) undici on first use.
 *
 * @example
 * ```ts
 * import { createTransport } from "@fedcred/core";
 *
 * const transport = createTransport({ proxyOptions: { host: "http://proxy.corp.example", port: 3128 } });
 * const response = await transport.send({
 *   url: "https://kubernetes.default.svc/api/v1/namespaces/prod/serviceaccounts/billing/token",
 *   method: "POST",
 *   headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
 *   body: JSON.stringify(tokenRequest),
 *   timeoutInMs: 10_000,
 *   maxBodyBytes: 64 * 1024,
 * });
 * ```
 */
export function createTransport(options: TransportOptions = {}): Transport {
  const { fetch: fetchImpl, httpClient } = options;
  if (fetchImpl !== undefined && httpClient !== undefined) {
    throw invalidConfiguration("Pass either fetch or httpClient, not both.");
  }
  const injected = fetchImpl !== undefined || httpClient !== undefined;
  const proxies: ProxyRules | undefined = injected
    ? undefined
    : readProxyRules(options.proxyOptions, options.env ?? process.env);
  const tls = new TlsContexts(options.tlsOptions);
  const direct = new NodeConnections(tls);
  const tunnels = new TunnelConnections(tls);

  async function send(request: HttpRequest): Promise<HttpResponse> {
    const metadataService = request.metadataService === true;
    const url = checkUrl(request.url, metadataService);
    // Metadata services answer only on the host itself: never through a proxy.
    const route = metadataService ? undefined : proxies?.routeFor(url);
    const context: RequestContext = {
      display: displayUrl(url),
      origin: url.origin,
      tlsName: request.tls?.servername ?? url.hostname,
      urlSource: request.urlSource ?? "authorityHost",
      ownCa: request.tls?.ca !== undefined,
      clientRequestId: request.clientRequestId,
      proxy: route && {
        uri: route.uri,
        source: route.source,
        authenticated: route.authorization() !== undefined,
      },
    };
    if (injected && request.tls !== undefined) {
      throw invalidConfiguration(
        `TLS settings for ${context.display} cannot be applied by an injected ${fetchImpl !== undefined ? "fetch" : "httpClient"}, which makes its own connections.`,
      );
    }
    const callerSignal = request.signal;
    if (callerSignal?.aborted) throw abortReason(callerSignal);
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(timedOut(context, request.timeoutInMs)),
      // Node runs longer delays at once.
      Math.min(request.timeoutInMs, MAX_TIMER_DELAY_MS),
    );
    if (request.background) timer.unref();
    const onAbort = (): void => controller.abort(abortReason(callerSignal as AbortSignal));
    callerSignal?.addEventListener("abort", onAbort, { once: true });
    const outgoing: OutgoingRequest = {
      url,
      method: request.method,
      headers: request.headers ?? {},
      body: request.body,
      signal: controller.signal,
      background: request.background === true,
      timeoutInMs: request.timeoutInMs,
      tls: request.tls,
      limit: {
        maxBodyBytes: request.maxBodyBytes,
        tooLarge: () => bodyTooLarge(context, request.maxBodyBytes),
        undecodable: (encoding, cause) => undecodableBody(context, encoding, cause),
      },
      redirect: (status, location) => redirectRefused(context, status, location),
      failure: (error) => connectionFailure(context, error),
    };
    try {
      if (fetchImpl !== undefined) {
        return await sendWithFetch(fetchImpl, outgoing, (finalUrl) =>
          redirectFollowed(context, finalUrl),
        );
      }
      if (httpClient !== undefined) {
        return await sendWithHttpClient(
          httpClient,
          outgoing,
          request.clientRequestId ?? globalThis.crypto.randomUUID(),
          () => timedOut(context, request.timeoutInMs),
        );
      }
      // undici does not hear an abort while it sets up a tunnel (a silent proxy, a stalled TLS
      // handshake behind it): the deadline and the caller's abort settle the request anyway.
      return route === undefined
        ? await direct.send(outgoing)
        : await raceAbort(
            tunnels.send(outgoing, route),
            controller.signal,
            (signal) => signal.reason,
          );
    } catch (error) {
      // The deadline or the caller's abort explains whatever the connection threw after it.
      if (controller.signal.aborted) throw controller.signal.reason;
      controller.abort(error);
      throw error;
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onAbort);
    }
  }

  return {
    send,
    close() {
      direct.close();
      tunnels.close();
    },
  };
}
