import { AuthenticationError, CredentialUnavailableError, FedcredError } from "./errors.js";
import { decodeJwtPayload, type JwtClaims } from "./jwt.js";
import { MAX_RETRY_AFTER_MS, sleep } from "./retry.js";
import type { HttpRequest, HttpResponse, Transport } from "./transport.js";
import { isRetryableTransportError } from "./transport-errors.js";

/**
 * A URL as an error message or log line may show it: its origin and path, without the user
 * name, password, query or fragment (any of which may hold a key).
 *
 * @param url - An absolute URL, as a string or a `URL`.
 * @returns `origin + pathname`, such as `https://tokens.example/oidc`.
 * @throws `TypeError` when `url` is a string that is not an absolute URL.
 *
 * @example
 * ```ts
 * import { describeUrl } from "@fedcred/core";
 *
 * describeUrl("https://tokens.example/oidc?key=secret"); // "https://tokens.example/oidc"
 * ```
 */
export function describeUrl(url: string | URL): string {
  const parsed = typeof url === "string" ? new URL(url) : url;
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * `url` with `query` appended after the query it already has, as a platform's token URL often
 * holds one (GitHub's `api-version`): `?` when it has none, nothing after a bare `?`, else `&`;
 * a fragment is dropped (it is never sent).
 *
 * @param url - The URL as the platform gave it.
 * @param query - `name=value` pairs joined by `&`, already percent-encoded.
 * @returns The URL's `href` with the query appended.
 *
 * @example
 * ```ts
 * import { appendQuery } from "@fedcred/core";
 *
 * appendQuery(new URL("https://x.example/token?api-version=2.0"), "audience=api%3A%2F%2Fa");
 * // "https://x.example/token?api-version=2.0&audience=api%3A%2F%2Fa"
 * ```
 */
export function appendQuery(url: URL, query: string): string {
  const base = new URL(url);
  // A fragment is never sent; a bare `?` has an empty `search` but stays in `href`.
  base.hash = "";
  const separator = base.search !== "" ? "&" : base.href.endsWith("?") ? "" : "?";
  return `${base.href}${separator}${query}`;
}

/** Three dot-separated base64url runs of 8 or more characters: a JWT (or JWT-like) anywhere in a text. */
const JWT_IN_TEXT = /[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g;

/**
 * Options of {@link quoteServerText}.
 *
 * @example
 * ```ts
 * import type { QuoteServerTextOptions } from "@fedcred/core";
 *
 * const options: QuoteServerTextOptions = { secrets: [requestToken], maxChars: 300 };
 * ```
 */
export interface QuoteServerTextOptions {
  /** Values the request sent that must never be shown (a bearer token, a header secret). */
  secrets?: readonly (string | undefined)[];
  /** The longest quote, in characters (UTF-16 code units), after redaction. Default 300. */
  maxChars?: number;
}

/**
 * A token source's own words (the text of a refusal) made fit for an error message: every
 * occurrence of a secret and every JWT-shaped run replaced by `[redacted]`, white space folded to
 * single spaces, trimmed, and cut to `maxChars`.
 *
 * @param text - What the server said (a body, a message field, a header).
 * @param options - The secrets to take out and the length cap.
 * @returns The text, or `""` when nothing is left; never throws.
 *
 * @example
 * ```ts
 * import { quoteServerText } from "@fedcred/core";
 *
 * const said = quoteServerText(response.body, { secrets: [requestToken] });
 * const message = `The token service refused (403).${said === "" ? "" : ` It said: ${JSON.stringify(said)}`}`;
 * ```
 */
export function quoteServerText(text: string, options: QuoteServerTextOptions = {}): string {
  let quoted = text;
  for (const secret of options.secrets ?? []) {
    if (secret) quoted = quoted.split(secret).join("[redacted]");
  }
  return quoted
    .replace(JWT_IN_TEXT, "[redacted]")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, options.maxChars ?? 300);
}

/**
 * The wait a response's `Retry-After` asks for, in ms: whole or decimal seconds (`0` included),
 * or an HTTP date (a past one is 0), capped at an hour. Undefined when there is no such header
 * or it is neither.
 *
 * @param response - The answer to be retried; `undefined` (a transport failure) has none.
 * @param now - The current time in ms since the epoch, for dates. Default `Date.now()`.
 *
 * @example
 * ```ts
 * import { retryAfterInMs } from "@fedcred/core";
 *
 * const wait = Math.min(retryAfterInMs(response) ?? 500 * 2 ** attempt, 5_000);
 * ```
 */
export function retryAfterInMs(
  response: HttpResponse | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = response?.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  let wait: number;
  if (/^\d+(\.\d+)?$/.test(value)) {
    wait = Number(value) * 1000;
  } else {
    const date = Date.parse(value);
    if (Number.isNaN(date)) return undefined;
    wait = Math.max(0, date - now);
  }
  return Math.min(wait, MAX_RETRY_AFTER_MS);
}

/**
 * Waits `ms` before a token source is asked again. The timer is ref'd: a caller waits on it, and
 * nothing else may be holding the process open (an unref'd pause let a process with nothing else
 * to do exit mid-call).
 *
 * @param ms - The wait in milliseconds (longer than 2^31 - 1 is cut to that).
 * @param signal - The caller's abort signal, if any.
 * @throws The signal's reason (an `AbortError` unless it is an error of its own) as soon as it
 *   aborts.
 *
 * @example
 * ```ts
 * import { waitBeforeRetry } from "@fedcred/core";
 *
 * await waitBeforeRetry(500, context?.abortSignal);
 * ```
 */
export function waitBeforeRetry(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, signal ?? new AbortController().signal);
}

/**
 * Options of {@link sendWithRetries}.
 *
 * @example
 * ```ts
 * import type { SendWithRetriesOptions } from "@fedcred/core";
 *
 * const options: SendWithRetriesOptions = {
 *   maxAttempts: 3,
 *   retryStatus: (status) => status === 429 || status >= 500,
 *   delayInMs: (attempt) => 500 * 2 ** (attempt - 1),
 *   describeTransportFailure: (error) => error,
 * };
 * ```
 */
export interface SendWithRetriesOptions {
  /** Attempts in all, the first included: 1 or more. */
  maxAttempts: number;
  /** Whether an answer with this status is asked again (while attempts are left). */
  retryStatus: (status: number) => boolean;
  /**
   * The pause before attempt `attempt + 1`, in ms; `attempt` counts from 1. `response` is the
   * answer being retried, `undefined` after a transport failure. See {@link retryAfterInMs}.
   */
  delayInMs: (attempt: number, response: HttpResponse | undefined) => number;
  /**
   * Whether retryable transport failures (`isRetryableTransportError`: refused, reset, timed out)
   * are tried again too. Default `false`: the first one is final.
   */
  retryTransportErrors?: boolean;
  /**
   * The error a transport failure is reported as (see {@link restateTransportFailure}). Not
   * called when the caller aborted: the abort's own error is thrown.
   */
  describeTransportFailure: (error: unknown) => unknown;
  /** Called with every answer before the retry decision; throw to end at once (a wrong server). */
  checkResponse?: (response: HttpResponse) => void;
}

/**
 * Sends a token source's request through core's transport, asking again after the statuses
 * (and, if asked, the transport failures) worth retrying, with a ref'd pause between attempts
 * (see {@link waitBeforeRetry}). The caller reads the answer: a success or the refusal to
 * explain, after `attempts` attempts.
 *
 * @param transport - From `createTransport`.
 * @param request - Sent as is on every attempt; its `signal` also ends the pauses.
 * @param options - How many attempts, what to retry, how long to wait, how to say a failure.
 * @returns The last answer (not retryable, or the last attempt's) and how many attempts it took.
 * @throws What `describeTransportFailure` returns for a transport failure that is final; the
 *   abort's error when the caller aborts; what `checkResponse` throws.
 *
 * @example
 * ```ts
 * import { createTransport, sendWithRetries } from "@fedcred/core";
 *
 * const { response, attempts } = await sendWithRetries(
 *   createTransport(),
 *   { url, method: "GET", timeoutInMs: 10_000, maxBodyBytes: 64 * 1024, signal },
 *   {
 *     maxAttempts: 3,
 *     retryStatus: (status) => status === 429 || status >= 500,
 *     delayInMs: (attempt, answer) => Math.min(retryAfterInMs(answer) ?? 500 * 2 ** attempt, 5_000),
 *     retryTransportErrors: true,
 *     describeTransportFailure: (error) =>
 *       restateTransportFailure(error, (said) => `The token request failed: ${said}`),
 *   },
 * );
 * ```
 */
export async function sendWithRetries(
  transport: Transport,
  request: HttpRequest,
  options: SendWithRetriesOptions,
): Promise<{ response: HttpResponse; attempts: number }> {
  const { signal } = request;
  for (let attempt = 1; ; attempt++) {
    let response: HttpResponse | undefined;
    try {
      response = await transport.send(request);
    } catch (error) {
      if (signal?.aborted) throw error;
      if (
        !options.retryTransportErrors ||
        !isRetryableTransportError(error) ||
        attempt >= options.maxAttempts
      ) {
        throw options.describeTransportFailure(error);
      }
    }
    if (response !== undefined) {
      options.checkResponse?.(response);
      if (!options.retryStatus(response.status) || attempt >= options.maxAttempts) {
        return { response, attempts: attempt };
      }
    }
    await waitBeforeRetry(options.delayInMs(attempt, response), signal);
  }
}

/**
 * A transport failure said again as the token source's own: `message(error.message)` names the
 * source and quotes the transport's words; the transport's code is kept. A retryable failure (refused,
 * reset, timed out) becomes a `CredentialUnavailableError` (`assertion_unavailable`), so a chain
 * moves on; an `AuthenticationError` (a redirect refused, a body over the cap) stays one, with
 * its code and `statusCode`; anything else is returned as is.
 *
 * @param error - What `transport.send` threw.
 * @param message - The new message, from the transport's (called only for a `FedcredError`).
 * @returns The error to throw, the original as its `cause`.
 *
 * @example
 * ```ts
 * import { restateTransportFailure } from "@fedcred/core";
 *
 * try {
 *   response = await transport.send(request);
 * } catch (error) {
 *   throw restateTransportFailure(error, (said) => `The token request to ${display} failed: ${said}`);
 * }
 * ```
 */
export function restateTransportFailure(
  error: unknown,
  message: (transportMessage: string) => string,
): unknown {
  if (!FedcredError.isInstance(error)) return error;
  const restated = message(error.message);
  if (isRetryableTransportError(error)) {
    return new CredentialUnavailableError(restated, "assertion_unavailable", { cause: error });
  }
  return AuthenticationError.isInstance(error)
    ? new AuthenticationError(restated, error.code, { statusCode: error.statusCode, cause: error })
    : error;
}

/** A JWS in compact form: three base64url parts, the signature possibly empty. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** The same with a signature. */
const SIGNED_JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * What {@link checkSourceJwt} found: the token and its claims, or the problem, for the provider
 * to say in its own words.
 *
 * @example
 * ```ts
 * import type { SourceJwtCheck } from "@fedcred/core";
 *
 * const check: SourceJwtCheck = { problem: "expired", expiresOnTimestamp: 1_767_225_600_000 };
 * ```
 */
export type SourceJwtCheck =
  | {
      problem?: undefined;
      /** The token, trimmed. */
      token: string;
      /** Its payload, not verified. */
      claims: JwtClaims;
      /** `exp` in ms since the epoch, when the payload has a numeric one. */
      expiresOnTimestamp: number | undefined;
    }
  /** Not a string of three base64url parts. */
  | { problem: "not_jwt" }
  /** Shaped like a JWT, but its payload does not decode. */
  | { problem: "payload_not_json" }
  /** Its `exp` (in ms since the epoch) has passed. */
  | { problem: "expired"; expiresOnTimestamp: number };

/**
 * Checks the token a source handed out before it goes to Entra ID, which takes nothing but an
 * unexpired JWT as an assertion: a string of three base64url parts (after trimming), whose
 * payload decodes, and whose `exp`, if numeric, is after `now`. Nothing is verified (Entra does).
 *
 * @param value - What the source answered (any type: a JSON field may hold anything).
 * @param options - `requireSignature`: refuse an empty third part (an unsecured JWT).
 *   `checkExpiry`: default `true`; `false` for a source whose answer says when the token expires
 *   (the provider checks that instead). `now`: the current time in ms since the epoch, default
 *   `Date.now()`.
 * @returns The token with its claims and expiry, or the problem; never throws.
 *
 * @example
 * ```ts
 * import { checkSourceJwt } from "@fedcred/core";
 *
 * const check = checkSourceJwt(document.value);
 * if (check.problem !== undefined) throw new Error(`not a usable token: ${check.problem}`);
 * return check.token;
 * ```
 */
export function checkSourceJwt(
  value: unknown,
  options: { requireSignature?: boolean; checkExpiry?: boolean; now?: number } = {},
): SourceJwtCheck {
  const token = typeof value === "string" ? value.trim() : "";
  if (!(options.requireSignature ? SIGNED_JWT_SHAPE : JWT_SHAPE).test(token)) {
    return { problem: "not_jwt" };
  }
  let claims: JwtClaims;
  try {
    claims = decodeJwtPayload(token);
  } catch {
    return { problem: "payload_not_json" };
  }
  const expiresOnTimestamp = typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  if (
    options.checkExpiry !== false &&
    expiresOnTimestamp !== undefined &&
    expiresOnTimestamp <= (options.now ?? Date.now())
  ) {
    return { problem: "expired", expiresOnTimestamp };
  }
  return { token, claims, expiresOnTimestamp };
}
