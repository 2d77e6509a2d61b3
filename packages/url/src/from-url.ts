import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  checkSourceJwt,
  checkTimeoutInMs,
  createTransport,
  describeUrl,
  type HttpResponse,
  isLoopbackHostname,
  memoizeAssertion,
  type ProxySettings,
  type TlsSettings,
  type Transport,
} from "@fedcred/core";

/**
 * Options of {@link fromUrl}.
 *
 * @example
 * ```ts
 * import type { FromUrlOptions } from "@fedcred/url";
 *
 * const options: FromUrlOptions = {
 *   url: "https://tokens.internal.example/oidc?audience=api://AzureADTokenExchange",
 *   headers: { authorization: `Bearer ${process.env.TOKEN_SERVICE_KEY}` },
 *   format: "json",
 *   field: "token.value",
 * };
 * ```
 */
export interface FromUrlOptions {
  /** The URL to `GET`: `https`, or plain `http` to a literal loopback host (`localhost`, `127.x.x.x`, `[::1]`). */
  url: string;
  /** Request headers, such as `authorization`. Their values never appear in errors or printed objects. */
  headers?: Readonly<Record<string, string>>;
  /** `"text"` (default): the whole body, trimmed. `"json"`: the string at `field` of a JSON body. */
  format?: "text" | "json";
  /** With `format: "json"`: the property holding the token; dots name nested properties (`"token.value"`). */
  field?: string;
  /** One deadline for connecting, the headers and the whole body, in milliseconds: 1 to 300 000. Default 10 000. */
  timeoutInMs?: number;
  /**
   * The same deadline under the name the other HTTP providers use (`fromGitHubActions`,
   * `fromGcpMetadata`, ...): give one of the two; both with different values is refused.
   */
  requestTimeoutInMs?: number;
  /** The proxy for this URL; default: `HTTPS_PROXY`, `ALL_PROXY`, `HTTP_PROXY`, `NO_PROXY` (never for loopback). */
  proxyOptions?: ProxySettings;
  /** CAs trusted besides Node's own (a private token service), and a client certificate. */
  tlsOptions?: TlsSettings;
}

/** Tokens are a few KiB; a body larger than this is not a token. */
const MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 300_000;
/** A header name as RFC 9110 spells a token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

function unavailable(message: string, cause?: unknown): CredentialUnavailableError {
  return new CredentialUnavailableError(
    message,
    "assertion_unavailable",
    cause === undefined ? undefined : { cause },
  );
}

function checkUrl(value: unknown): { href: string; display: string } {
  if (typeof value !== "string" || value.trim() === "") {
    throw invalid("options.url must be the URL to fetch the token from, as a string.");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid("options.url is not an absolute URL.");
  }
  // Origin and path only: a query may hold a key.
  const display = describeUrl(url);
  if (
    url.protocol !== "https:" &&
    !(url.protocol === "http:" && isLoopbackHostname(url.hostname))
  ) {
    throw invalid(
      `options.url must be https (plain http only to loopback hosts: localhost, 127.x.x.x, [::1]), got ${url.protocol === "http:" ? display : `${url.protocol.slice(0, -1)}:`}.`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(
      `options.url must not hold a user name or password (${display}): send them in options.headers.`,
    );
  }
  return { href: url.href, display };
}

function checkHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("options.headers must be an object of header names to string values.");
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value)) {
    if (!HEADER_NAME.test(name)) {
      throw invalid(`options.headers has an invalid header name ${JSON.stringify(name)}.`);
    }
    // The value is never shown: it may be a key.
    if (typeof headerValue !== "string" || /[\r\n\0]/.test(headerValue)) {
      throw invalid(
        `options.headers["${name}"] must be a string without line breaks (its value is not shown).`,
      );
    }
    headers[name.toLowerCase()] = headerValue;
  }
  return headers;
}

function pick(document: unknown, field: string, display: string): string {
  let found: unknown = document;
  for (const part of field.split(".")) {
    found =
      typeof found === "object" && found !== null && Object.hasOwn(found, part)
        ? (found as Record<string, unknown>)[part]
        : undefined;
  }
  if (typeof found !== "string" || found.trim() === "") {
    throw unavailable(
      `The JSON answer of ${display} has no non-empty string at "${field}": check options.field.`,
    );
  }
  return found.trim();
}

/** The token, checked to be a JWT that has not expired: Entra takes nothing else as an assertion. */
function checkToken(token: string, display: string): string {
  const check = checkSourceJwt(token);
  if (check.problem === "not_jwt") {
    throw unavailable(
      `The answer of ${display} is not a JWT (three base64url parts separated by dots): check the URL, options.format and options.field.`,
    );
  }
  if (check.problem === "payload_not_json") {
    throw unavailable(
      `The answer of ${display} looks like a JWT but its payload is not JSON: check the URL and options.field.`,
    );
  }
  if (check.problem === "expired") {
    throw new CredentialUnavailableError(
      `The token from ${display} expired at ${new Date(check.expiresOnTimestamp).toISOString()}: the service handed out a stale token.`,
      "assertion_expired",
    );
  }
  return check.token;
}

/**
 * An assertion fetched with a `GET` from any URL: a token service of a platform nobody packaged
 * yet, a sidecar, a CI system's endpoint. The answer is the token itself (`format: "text"`,
 * trimmed) or a JSON document holding it at `field`. It must be a JWT.
 *
 * The request goes through `@fedcred/core`'s transport: redirects are refused (a 3xx is an
 * `AuthenticationError` `redirect_refused`), the body is capped at 64 KiB, one deadline covers
 * connecting and reading, proxies come from the options or the environment, and plain http is
 * sent only to loopback hosts. The token is kept until a margin before its `exp` (5 minutes, at
 * most a fifth of its lifetime), since each call is a network round trip; a token without `exp`
 * is fetched again on every call. Concurrent calls share one request; `context.forceRefresh`
 * (Entra said AADSTS700024) fetches anew.
 *
 * @throws {@link CredentialUnavailableError} (`invalid_configuration`) at once for an option it
 *   cannot use. Calls reject with `CredentialUnavailableError` (`assertion_unavailable`) when the
 *   URL cannot be reached, answers 404 or 5xx, or answers something that is not a token (no JWT,
 *   no string at `field`, not JSON); `assertion_expired` for an expired token; and with
 *   `AuthenticationError` (`assertion_failed`, with `statusCode`) when it answers another 4xx
 *   (a wrong key in `headers`). Messages name the URL's origin and path, never its query or the
 *   header values.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromUrl } from "@fedcred/url";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromUrl({
 *   url: "http://127.0.0.1:8080/token?audience=api://AzureADTokenExchange",
 *   headers: { "x-token-key": process.env.SIDECAR_KEY! },
 *   format: "json",
 *   field: "value",
 * }));
 * ```
 */
export function fromUrl(options: FromUrlOptions): AssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw invalid("fromUrl takes an options object with at least url.");
  }
  const { href, display } = checkUrl(options.url);
  const headers = checkHeaders(options.headers);
  const format = options.format ?? "text";
  if (format !== "text" && format !== "json") {
    throw invalid(`options.format must be "text" or "json", got ${JSON.stringify(format)}.`);
  }
  const field = options.field;
  if (format === "json" && (typeof field !== "string" || field.trim() === "")) {
    throw invalid('options.format "json" needs options.field: the property that holds the token.');
  }
  if (format === "text" && field !== undefined) {
    throw invalid('options.field applies to options.format "json" only.');
  }
  if (
    options.timeoutInMs !== undefined &&
    options.requestTimeoutInMs !== undefined &&
    options.timeoutInMs !== options.requestTimeoutInMs
  ) {
    throw invalid(
      "options.timeoutInMs and options.requestTimeoutInMs name the same deadline: give one of them.",
    );
  }
  const timeoutInMs = checkTimeoutInMs(
    options.timeoutInMs ?? options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS,
    options.timeoutInMs === undefined && options.requestTimeoutInMs !== undefined
      ? "options.requestTimeoutInMs"
      : "options.timeoutInMs",
    MAX_TIMEOUT_MS,
  );
  let transport: Transport | undefined;

  async function fetchToken(context: AssertionContext): Promise<string> {
    transport ??= createTransport({
      proxyOptions: options.proxyOptions,
      tlsOptions: options.tlsOptions,
    });
    let response: HttpResponse;
    try {
      response = await transport.send({
        url: href,
        method: "GET",
        headers: { accept: format === "json" ? "application/json" : "*/*", ...headers },
        signal: context?.abortSignal,
        timeoutInMs,
        // Not background: the caller waits for this answer, so it must keep the process alive
        // (Node unrefs the pooled socket once it is idle).
        maxBodyBytes: MAX_BODY_BYTES,
        urlSource: "options.url",
      });
    } catch (error) {
      if (AuthenticationError.isInstance(error) && error.code === "token_request_failed") {
        throw unavailable(`The token URL cannot be reached: ${error.message}`, error);
      }
      throw error;
    }
    const { status } = response;
    if (status < 200 || status > 299) {
      const reason = `${display} answered ${status}`;
      if (status === 404 || status >= 500) {
        throw unavailable(`${reason}: the token service is not there or not working.`);
      }
      throw new AuthenticationError(
        `${reason}: it refused to hand out a token; check options.headers (the credentials it expects) and options.url.`,
        "assertion_failed",
        { statusCode: status },
      );
    }
    let token = response.body.trim();
    if (format === "json") {
      let document: unknown;
      try {
        document = JSON.parse(token);
      } catch {
        throw unavailable(
          `${display} answered something that is not JSON, but options.format is "json".`,
        );
      }
      token = pick(document, field as string, display);
    }
    return checkToken(token, display);
  }

  return memoizeAssertion(fetchToken);
}
