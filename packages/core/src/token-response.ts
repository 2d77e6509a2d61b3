import type { AssertionFunc } from "./assertion.js";
import {
  AuthenticationError,
  type AuthenticationErrorCode,
  type TokenErrorResponse,
} from "./errors.js";
import { hintFor } from "./hints.js";
import type { JwtClaims } from "./jwt.js";
import { RETRYABLE_STATUSES } from "./retry.js";

/** A successful token answer, parsed and checked. */
export interface TokenResponse {
  accessToken: string;
  /** The lifetime Entra granted, in ms. */
  expiresInMs: number;
  /** Entra's `refresh_in`, in ms, when it lies strictly between 0 and the lifetime. */
  refreshInMs: number | undefined;
}

/** The longest lifetime accepted: Entra issues far shorter ones; longer answers are refused. */
export const MAX_TOKEN_LIFETIME_SECONDS: number = 7 * 24 * 3600;

/** A positive decimal number of seconds: a JSON number, or a string of digits. */
function toSeconds(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value === "string" && /^\d+$/.test(value)) {
    const seconds = Number(value);
    return seconds > 0 ? seconds : undefined;
  }
  return undefined;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** What a body that is not the expected answer is; `json` is what `parseJson` made of it. */
function bodyKind(body: string, json: unknown): string {
  if (body.trim() === "") return "an empty body";
  if (/^\s*</.test(body)) return "an HTML or XML page";
  return json === undefined ? "a body that is not JSON" : "JSON that is not an Entra error";
}

function stringField(object: Record<string, unknown>, name: string): string | undefined {
  const value = object[name];
  return typeof value === "string" ? value : undefined;
}

function toErrorResponse(
  object: Record<string, unknown>,
  scrub: (text: string) => string,
): TokenErrorResponse | undefined {
  const error = stringField(object, "error");
  if (error === undefined) return undefined;
  const errorDescription = scrub(stringField(object, "error_description") ?? "");
  let errorCodes = Array.isArray(object.error_codes)
    ? object.error_codes.map(Number).filter(Number.isSafeInteger)
    : [];
  if (errorCodes.length === 0) {
    const match = /^AADSTS(\d+)/.exec(errorDescription);
    if (match) errorCodes = [Number(match[1])];
  }
  const response: TokenErrorResponse = { error: scrub(error), errorDescription, errorCodes };
  // Entra puts the ids in the description too; a proxy that rewrites the body may keep only those.
  const correlationId =
    stringField(object, "correlation_id") ?? idIn(errorDescription, "Correlation ID");
  const traceId = stringField(object, "trace_id") ?? idIn(errorDescription, "Trace ID");
  const timestamp = stringField(object, "timestamp");
  const errorUri = stringField(object, "error_uri");
  if (correlationId !== undefined) response.correlationId = scrub(correlationId);
  if (traceId !== undefined) response.traceId = scrub(traceId);
  if (timestamp !== undefined) response.timestamp = scrub(timestamp);
  if (errorUri !== undefined) response.errorUri = scrub(errorUri);
  return response;
}

/** The id that follows `label:` in Entra's description (`Trace ID: 0d6d...`), if any. */
function idIn(description: string, label: string): string | undefined {
  return new RegExp(`${label}:\\s*([0-9A-Za-z-]{1,100})`, "i").exec(description)?.[1];
}

const DESCRIPTION_LIMIT = 600;

/**
 * Entra's description without its trailer (`Trace ID: ... Correlation ID: ... Timestamp: ...`,
 * which the message states once, whole), on one line, cut at a sentence-sized limit.
 */
function describe(text: string): string {
  const withoutIds = text
    .replace(/\s*(Trace ID|Correlation ID|Timestamp):\s*\S+(\s+\S+Z)?/gi, "")
    .replace(/\s+/g, " ")
    .trim();
  return withoutIds.length > DESCRIPTION_LIMIT
    ? `${withoutIds.slice(0, DESCRIPTION_LIMIT)}...`
    : withoutIds;
}

/** Throttling, timeouts and server failures are failures; anything else is Entra refusing. */
function errorCode(status: number): AuthenticationErrorCode {
  return status >= 500 || RETRYABLE_STATUSES.has(status)
    ? "token_request_failed"
    : "token_request_rejected";
}

/** Reason phrases of the statuses a token endpoint or a proxy in front of it tends to answer. */
const STATUS_TEXTS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function statusText(status: number): string {
  const text = STATUS_TEXTS[status];
  return text ? `${status} ${text}` : String(status);
}

function invalidResponse(status: number, message: string): AuthenticationError {
  return new AuthenticationError(message, "invalid_token_response", { statusCode: status });
}

/** What a token endpoint's failed answer is about, and where it came from. */
export interface FailedAnswer {
  status: number;
  body: string;
  /** The URL that was called (it has no secret: the assertion travels in the body). */
  url: string;
  /** The decoded claims of the assertion that was sent (never the assertion itself). */
  claims: JwtClaims | undefined;
  /** Removes the assertion that was sent from anything the server echoes. */
  scrub: (text: string) => string;
  clientRequestId?: string | undefined;
  /** How many attempts were made, for the message. */
  attempts?: number;
  /** The assertion source's own words on the refusal ({@link AssertionFunc.describeRefusal}). */
  describeRefusal?: AssertionFunc["describeRefusal"];
}

function attemptsText(attempts: number | undefined): string {
  if (attempts === undefined || attempts <= 1) return "";
  return ` after ${attempts} attempts`;
}

function answerWithoutEntraError(answer: FailedAnswer, json: unknown): string {
  const { status, body, url } = answer;
  const what = `${statusText(status)} with ${bodyKind(body, json)}${attemptsText(answer.attempts)}`;
  if (status === 429) {
    return `The token endpoint is throttling requests (${what}): wait before asking again; cache and reuse one credential per application.`;
  }
  if (status === 404) {
    return `The token endpoint ${url} answered ${what}: check authorityHost (such as https://login.microsoftonline.com, or a gateway's URL up to the tenant) and the tenant id.`;
  }
  if (status >= 500 || RETRYABLE_STATUSES.has(status)) {
    return `The token endpoint ${url} failed (${what}): Entra ID or a proxy in between is unavailable; try again later.`;
  }
  return `The token endpoint ${url} answered ${what}: this is not an Entra ID answer; check the authority host and any proxy in between.`;
}

/** What the assertion source adds; a source that throws adds nothing. */
function sourceDetail(
  describeRefusal: FailedAnswer["describeRefusal"],
  codes: readonly number[],
  claims: JwtClaims | undefined,
): string | undefined {
  if (typeof describeRefusal !== "function" || codes.length === 0) return undefined;
  try {
    const detail = describeRefusal(codes, claims);
    return typeof detail === "string" && detail.trim() !== ""
      ? detail.trim().slice(0, 2000)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns an error answer of the token endpoint into an {@link AuthenticationError} whose message
 * says what Entra refused and what to fix. Every server-supplied string is scrubbed of the
 * assertion that was sent.
 */
export function tokenErrorFromResponse(answer: FailedAnswer): AuthenticationError {
  const { status, clientRequestId } = answer;
  const json = parseJson(answer.body);
  const errorResponse =
    typeof json === "object" && json !== null && !Array.isArray(json)
      ? toErrorResponse(json as Record<string, unknown>, answer.scrub)
      : undefined;
  if (!errorResponse) {
    return new AuthenticationError(answerWithoutEntraError(answer, json), errorCode(status), {
      statusCode: status,
      clientRequestId,
    });
  }
  const codes = errorResponse.errorCodes.map((code) => `AADSTS${code}`).join(", ");
  const hint = hintFor(errorResponse.errorCodes, answer.claims);
  // An outage or throttling is not a refusal: the caller is told to wait, not to fix anything.
  const outcome =
    status === 429
      ? "throttled the token request"
      : status >= 500
        ? "could not answer the token request"
        : "refused the token request";
  const parts = [
    `Entra ID ${outcome} (${status} ${/^[a-z_]{1,64}$/.test(errorResponse.error) ? errorResponse.error : JSON.stringify(errorResponse.error.slice(0, 64))}${codes ? `, ${codes}` : ""})${attemptsText(answer.attempts)}.`,
  ];
  if (status === 404 && !hint) parts.push(`Check authorityHost: the URL called was ${answer.url}.`);
  if (hint) parts.push(hint);
  const detail = sourceDetail(answer.describeRefusal, errorResponse.errorCodes, answer.claims);
  if (detail) parts.push(detail);
  const description = describe(errorResponse.errorDescription);
  if (description) parts.push(`Entra said: ${description}`);
  if (status === 429)
    parts.push("Wait before asking again; cache and reuse one credential per application.");
  else if (status >= 500) parts.push("Entra ID is unavailable for now; try again later.");
  if (errorResponse.traceId) parts.push(`Trace ID: ${errorResponse.traceId}.`);
  if (errorResponse.correlationId) parts.push(`Correlation ID: ${errorResponse.correlationId}.`);
  if (clientRequestId && clientRequestId !== errorResponse.correlationId) {
    parts.push(`Client request ID: ${clientRequestId}.`);
  }
  return new AuthenticationError(parts.join(" "), errorCode(status), {
    statusCode: status,
    errorResponse,
    clientRequestId,
  });
}

/**
 * Parses and checks a successful answer: `access_token` a non-empty string of visible
 * characters, `token_type` (when present) `Bearer` in any letter case, `expires_in` a number of
 * seconds from 1 to 7 days (a JSON number or a string of digits), and `refresh_in`
 * used only when it lies strictly between 0 and `expires_in`.
 */
export function parseTokenResponse(status: number, body: string): TokenResponse {
  const json = parseJson(body);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw invalidResponse(
      status,
      `The token endpoint answered ${status} with ${bodyKind(body, json)} instead of a JSON token response.`,
    );
  }
  const object = json as Record<string, unknown>;
  const accessToken = object.access_token;
  if (typeof accessToken !== "string" || accessToken.length === 0) {
    throw invalidResponse(status, `The token endpoint answered ${status} without an access_token.`);
  }
  if (!/^[\x21-\x7e]+$/.test(accessToken)) {
    throw invalidResponse(
      status,
      `The token endpoint answered ${status} with an access_token that holds whitespace, control or non-ASCII characters; it is not a usable bearer token.`,
    );
  }
  const tokenType = object.token_type;
  if (
    tokenType !== undefined &&
    (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer")
  ) {
    throw invalidResponse(
      status,
      `The token endpoint answered with token_type ${typeof tokenType === "string" ? JSON.stringify(tokenType.slice(0, 40)) : `of type ${typeof tokenType}`}; only Bearer tokens are supported.`,
    );
  }
  const expiresInSeconds = toSeconds(object.expires_in);
  if (expiresInSeconds === undefined || expiresInSeconds < 1) {
    throw invalidResponse(
      status,
      "The token endpoint answered without a valid expires_in: it must be a number of seconds, at least 1 (a JSON number or a string of digits).",
    );
  }
  if (expiresInSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw invalidResponse(
      status,
      `The token endpoint answered expires_in ${expiresInSeconds} s, longer than the 7 days fedcred accepts (Entra issues tokens of hours): this is not an Entra ID answer.`,
    );
  }
  const refreshInSeconds = toSeconds(object.refresh_in);
  return {
    accessToken,
    expiresInMs: expiresInSeconds * 1000,
    refreshInMs:
      refreshInSeconds !== undefined && refreshInSeconds < expiresInSeconds
        ? refreshInSeconds * 1000
        : undefined,
  };
}
