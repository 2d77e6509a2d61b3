import { AuthenticationError, type AuthenticationErrorCode, FedcredError } from "./errors.js";

const RETRYABLE = Symbol.for("fedcred.transport.retryable");

/** A proxy as errors name it: never its credentials. */
export interface ProxyDescription {
  readonly uri: string;
  readonly source: string;
  /** Whether credentials were sent to it. */
  readonly authenticated: boolean;
}

/** What an error of one request names: the request, the proxy it went through, its id. */
export interface RequestContext {
  /** Origin and path of the URL, never its query or user info. */
  readonly display: string;
  readonly origin: string;
  /** The name the server's certificate must hold: `servername` when given, else the host. */
  readonly tlsName: string;
  readonly clientRequestId: string | undefined;
  readonly proxy?: ProxyDescription | undefined;
  /** `true` when this destination trusts only CAs of its own (the AKS token proxy's). */
  readonly ownCa?: boolean | undefined;
  /** Where the URL comes from (`authorityHost`, `options.url`, ...), for the hints that fix it. */
  readonly urlSource: string;
}

/** Origin and path of `url`, for messages: no user info, no query, no fragment. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function transportError(
  message: string,
  code: AuthenticationErrorCode,
  context: RequestContext,
  retryable: boolean,
  details: { statusCode?: number; cause?: unknown } = {},
): AuthenticationError {
  const error = new AuthenticationError(message, code, {
    ...details,
    clientRequestId: context.clientRequestId,
  });
  if (retryable) Object.defineProperty(error, RETRYABLE, { value: true });
  return error;
}

/**
 * `true` when an error from `Transport.send` is worth retrying: a network failure, a timeout, an
 * unreachable or failing proxy. Refused redirects, oversized answers, TLS and configuration
 * errors and aborts are not.
 *
 * @example
 * ```ts
 * try {
 *   return await transport.send(request);
 * } catch (error) {
 *   if (!isRetryableTransportError(error) || attempt === maxRetries) throw error;
 * }
 * ```
 */
export function isRetryableTransportError(error: unknown): boolean {
  return typeof error === "object" && error !== null && RETRYABLE in error;
}

/** 1048576 -> "1 MiB", 1536 -> "1.5 KiB", 100 -> "100 bytes". */
export function formatBytes(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
}

/** Where a `Location` header points, as an origin: never its path or query. */
function describeLocation(location: string | null, base: string): string {
  if (location === null || location.trim() === "") return "no Location header";
  let target: URL;
  try {
    target = new URL(location, base);
  } catch {
    return "an unparsable Location";
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return /^[a-z][a-z0-9+.-]{0,19}:$/.test(target.protocol)
      ? `a redirect to a ${target.protocol} URL`
      : "a redirect to a URL that is not http";
  }
  // A host is at most 253 characters; anything longer is not a host worth printing.
  return target.host.length > 260 ? "a redirect to another host" : `a redirect to ${target.origin}`;
}

/** A 3xx answer: refused, and nothing goes to its `Location`. */
export function redirectRefused(
  context: RequestContext,
  status: number,
  location: string | null,
): AuthenticationError {
  return transportError(
    `The request to ${context.display} was answered ${status} with ${describeLocation(location, context.display)}; fedcred never follows redirects, so nothing was sent there: point the URL at the endpoint itself (check ${context.urlSource} and any proxy in between).`,
    "redirect_refused",
    context,
    false,
    { statusCode: status },
  );
}

/** An injected fetch that followed a redirect although it was asked not to. */
export function redirectFollowed(
  context: RequestContext,
  finalUrl: string | undefined,
): AuthenticationError {
  let target = "another URL";
  try {
    if (finalUrl) target = new URL(finalUrl).origin;
  } catch {}
  return transportError(
    `The request to ${context.display} was redirected to ${target} by the injected fetch, which ignored redirect: "manual"; fedcred never uses answers of redirects: use a fetch that honours redirect: "manual".`,
    "redirect_refused",
    context,
    false,
  );
}

/** The decoded answer grew past the cap. */
export function bodyTooLarge(context: RequestContext, maxBodyBytes: number): AuthenticationError {
  return transportError(
    `The answer of ${context.display} exceeded ${formatBytes(maxBodyBytes)} decoded; fedcred stopped reading it and dropped the connection.`,
    "invalid_token_response",
    context,
    false,
  );
}

/** The answer's content-encoding is not one fedcred decodes, or its bytes do not decode. */
export function undecodableBody(
  context: RequestContext,
  encoding: string,
  cause?: unknown,
): AuthenticationError {
  const reason =
    cause === undefined
      ? "fedcred decodes only gzip, deflate and br"
      : `it does not decode${codeOf(cause) ? ` (${codeOf(cause)})` : ""}`;
  return transportError(
    `The answer of ${context.display} has content-encoding ${JSON.stringify(encoding)}, and ${reason}.`,
    "invalid_token_response",
    context,
    false,
    { cause },
  );
}

/** The deadline of the whole request (connect, headers and body) passed. */
export function timedOut(context: RequestContext, timeoutInMs: number): AuthenticationError {
  return transportError(
    `The request to ${context.display} timed out after ${timeoutInMs} ms.`,
    "token_request_failed",
    context,
    true,
  );
}

const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "CERT_CHAIN_TOO_LONG",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_SIGNATURE_FAILURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
]);
const CLOCK = new Set([
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
]);
const WRONG_NAME = new Set(["ERR_TLS_CERT_ALTNAME_INVALID", "HOSTNAME_MISMATCH"]);
const CLIENT_CERTIFICATE_REFUSED =
  /ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)$/;
const OTHER_TLS = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_)/;
const PROXY_UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const DESCRIPTIONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed for now",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_CLOSED: "connection closed",
};
const INVALID_HTTP = "not valid HTTP";

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The error and its causes, outermost first (a bounded walk: causes may form a loop). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = error; current != null && chain.length < 6; ) {
    chain.push(current);
    const next = (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
  return chain;
}

function tlsFailure(context: RequestContext, code: string, cause: unknown): AuthenticationError {
  const subject = `The TLS certificate of ${context.origin}`;
  const interception = context.proxy
    ? ` (a TLS-inspecting proxy such as ${context.proxy.uri} presents its own CA)`
    : "";
  let message: string;
  if (UNTRUSTED.has(code) && context.ownCa) {
    message = `${subject} is not trusted (${code}) by the CA given for this destination, the only one trusted there: check that the CA (such as the token proxy's AZURE_KUBERNETES_CA_FILE) is the one that issued the server's certificate.`;
  } else if (UNTRUSTED.has(code)) {
    message = `${subject} is not trusted (${code}): if the server uses a private or corporate CA${interception}, trust it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem or tlsOptions.ca.`;
  } else if (CLOCK.has(code)) {
    message = `${subject} ${code === "CERT_HAS_EXPIRED" ? "has expired" : code === "CERT_NOT_YET_VALID" ? "is not yet valid" : "has unreadable validity dates"} (${code}): check this machine's clock and the server certificate.`;
  } else if (WRONG_NAME.has(code)) {
    message = `${subject} does not name ${context.tlsName} (${code}): point the URL at a host name the certificate lists (check ${context.urlSource}, and servername where one is set).`;
  } else if (CLIENT_CERTIFICATE_REFUSED.test(code)) {
    message = `The TLS handshake with ${context.origin} was refused (${code}): if the server requires a client certificate, set tlsOptions.cert and tlsOptions.key (or tlsOptions.pfx) to one it trusts.`;
  } else {
    message = `The TLS connection to ${context.origin} failed (${code}).`;
  }
  return transportError(message, "tls_error", context, false, { cause });
}

function proxyStatusFailure(
  context: RequestContext,
  proxy: ProxyDescription,
  status: number,
  cause: unknown,
): AuthenticationError {
  const target = new URL(context.origin);
  const tunnel = `${target.hostname}:${target.port || (target.protocol === "https:" ? 443 : 80)}`;
  const hint =
    status === 407
      ? proxy.authenticated
        ? `the proxy refused the credentials from ${proxy.source}: check the user name and password`
        : `the proxy requires authentication: set proxyOptions.username/password or credentials in ${proxy.source === "proxyOptions" ? "HTTPS_PROXY" : proxy.source}`
      : status === 403
        ? "the proxy's policy does not allow this destination"
        : status >= 500
          ? "the proxy could not reach the destination"
          : "the proxy did not open the tunnel";
  return transportError(
    `The proxy ${proxy.uri} (from ${proxy.source}) answered ${status} to the tunnel request for ${tunnel}: ${hint}.`,
    "token_request_failed",
    context,
    status >= 500,
    { cause },
  );
}

/**
 * Turns what a connection, a TLS handshake, a proxy or an injected client threw into an
 * `AuthenticationError`: `tls_error` (not retryable) for certificate and handshake failures,
 * else `token_request_failed` (retryable) naming the URL, or the proxy when it was the proxy.
 */
export function connectionFailure(context: RequestContext, error: unknown): FedcredError {
  if (FedcredError.isInstance(error)) return error;
  const chain = causeChain(error);
  const codes = chain.map(codeOf).filter((code): code is string => code !== undefined);
  const tlsCode = codes.find(
    (code) =>
      UNTRUSTED.has(code) || CLOCK.has(code) || WRONG_NAME.has(code) || OTHER_TLS.test(code),
  );
  const cause = safeCause(error);
  if (tlsCode !== undefined) return tlsFailure(context, tlsCode, cause);
  const proxy = context.proxy;
  if (proxy !== undefined) {
    for (const link of chain) {
      const status = /Proxy response \((\d{3})\)/.exec(String((link as Error)?.message))?.[1];
      if (status !== undefined) return proxyStatusFailure(context, proxy, Number(status), cause);
    }
    const unreachable = codes.find((code) => PROXY_UNREACHABLE.has(code));
    if (unreachable !== undefined) {
      return transportError(
        `The proxy ${proxy.uri} (from ${proxy.source}) could not be reached: ${unreachable} (${DESCRIPTIONS[unreachable]}). Check the proxy's address, or list hosts that need no proxy in NO_PROXY.`,
        "token_request_failed",
        context,
        true,
        { cause },
      );
    }
  }
  const code =
    codes.find((candidate) => /^(E[A-Z]+|UND_ERR_[A-Z_]+|HPE_[A-Z_]+)$/.test(candidate)) ??
    codes[0];
  const description =
    code === undefined
      ? undefined
      : (DESCRIPTIONS[code] ?? (code.startsWith("HPE_") ? INVALID_HTTP : undefined));
  const what =
    code === undefined
      ? error instanceof Error && error.message
        ? `(${error.message.slice(0, 200)})`
        : "(no error code)"
      : description === undefined
        ? code
        : `${code} (${description})`;
  const through = proxy === undefined ? "" : ` through the proxy ${proxy.uri}`;
  return transportError(
    `The request to ${context.display}${through} failed: ${what}.`,
    "token_request_failed",
    context,
    true,
    { cause },
  );
}

/**
 * The cause to keep on an error: the original when it carries no request, else a copy with
 * only its name, message and code (a client's error may hold the request and its body).
 */
function safeCause(error: unknown): unknown {
  if (typeof error !== "object" || error === null) return error;
  if (!("request" in error) && !("response" in error)) return error;
  const source = error as { name?: unknown; message?: unknown; code?: unknown };
  const copy = new Error(typeof source.message === "string" ? source.message : "request failed");
  copy.name = typeof source.name === "string" ? source.name : "Error";
  if (typeof source.code === "string") Object.assign(copy, { code: source.code });
  return copy;
}
