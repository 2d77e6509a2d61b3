import {
  AuthenticationError,
  type AuthenticationErrorCode,
  type TokenErrorResponse,
} from "./errors.js";
import { hintFor } from "./hints.js";
import type { JwtClaims } from "./jwt.js";
import { RETRYABLE_STATUSES } from "./retry.js";

/** A successful token answer, parsed. */
export interface TokenResponse {
  accessToken: string;
  tokenType: string;
  expiresInSeconds: number;
  refreshInSeconds: number | undefined;
}

function toSeconds(value: unknown): number | undefined {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) && number >= 0 ? number : undefined;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function bodyKind(body: string): string {
  if (body.trim() === "") return "an empty body";
  if (/^\s*</.test(body)) return "an HTML or XML page";
  return "a body that is not JSON";
}

function stringField(object: Record<string, unknown>, name: string): string | undefined {
  const value = object[name];
  return typeof value === "string" ? value : undefined;
}

function toErrorResponse(object: Record<string, unknown>): TokenErrorResponse | undefined {
  const error = stringField(object, "error");
  if (error === undefined) return undefined;
  const errorDescription = stringField(object, "error_description") ?? "";
  let errorCodes = Array.isArray(object.error_codes)
    ? object.error_codes.map(Number).filter(Number.isInteger)
    : [];
  if (errorCodes.length === 0) {
    const match = /^AADSTS(\d+)/.exec(errorDescription);
    if (match) errorCodes = [Number(match[1])];
  }
  const response: TokenErrorResponse = { error, errorDescription, errorCodes };
  const correlationId = stringField(object, "correlation_id");
  const traceId = stringField(object, "trace_id");
  const timestamp = stringField(object, "timestamp");
  const errorUri = stringField(object, "error_uri");
  if (correlationId !== undefined) response.correlationId = correlationId;
  if (traceId !== undefined) response.traceId = traceId;
  if (timestamp !== undefined) response.timestamp = timestamp;
  if (errorUri !== undefined) response.errorUri = errorUri;
  return response;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > 400 ? `${line.slice(0, 400)}...` : line;
}

/** Throttling, timeouts and server failures are failures; anything else is Entra refusing. */
function errorCode(status: number): AuthenticationErrorCode {
  return status >= 500 || RETRYABLE_STATUSES.has(status)
    ? "token_request_failed"
    : "token_request_rejected";
}

function invalidResponse(status: number, message: string): AuthenticationError {
  return new AuthenticationError(message, "invalid_token_response", { statusCode: status });
}

/**
 * Turns an error answer of the token endpoint into an {@link AuthenticationError} whose message
 * says what Entra refused and what to fix. `claims` are the decoded claims of the assertion
 * that was sent (never the assertion itself).
 */
export function tokenErrorFromResponse(
  status: number,
  body: string,
  claims: JwtClaims | undefined,
): AuthenticationError {
  const json = parseJson(body);
  const errorResponse =
    typeof json === "object" && json !== null
      ? toErrorResponse(json as Record<string, unknown>)
      : undefined;
  if (!errorResponse) {
    return new AuthenticationError(
      `The token endpoint answered ${status} with ${bodyKind(body)}: this is not an Entra ID answer; check the authority host and any proxy in between.`,
      errorCode(status),
      { statusCode: status },
    );
  }
  const codes = errorResponse.errorCodes.map((code) => `AADSTS${code}`).join(", ");
  const hint = hintFor(errorResponse.errorCodes, claims);
  const parts = [
    `Entra ID refused the token request (${status} ${errorResponse.error}${codes ? `, ${codes}` : ""}).`,
  ];
  if (hint) parts.push(hint);
  if (errorResponse.errorDescription)
    parts.push(`Entra said: ${firstLine(errorResponse.errorDescription)}`);
  if (errorResponse.correlationId) parts.push(`Correlation ID: ${errorResponse.correlationId}.`);
  return new AuthenticationError(parts.join(" "), errorCode(status), {
    statusCode: status,
    errorResponse,
  });
}

/** Parses a successful answer tolerantly (numbers as strings) and strictly (a token is required). */
export function parseTokenResponse(status: number, body: string): TokenResponse {
  const json = parseJson(body);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw invalidResponse(
      status,
      `The token endpoint answered ${status} with ${bodyKind(body)} instead of a JSON token response.`,
    );
  }
  const object = json as Record<string, unknown>;
  const accessToken = object.access_token;
  if (typeof accessToken !== "string" || accessToken.length === 0) {
    throw invalidResponse(status, `The token endpoint answered ${status} without an access_token.`);
  }
  const expiresInSeconds = toSeconds(object.expires_in);
  if (expiresInSeconds === undefined) {
    throw invalidResponse(
      status,
      `The token endpoint answered ${status} without a valid expires_in.`,
    );
  }
  if (expiresInSeconds <= 0) {
    throw invalidResponse(
      status,
      "The token endpoint answered with a token that has already expired (expires_in 0).",
    );
  }
  const tokenType = typeof object.token_type === "string" ? object.token_type : "Bearer";
  if (tokenType.toLowerCase() !== "bearer") {
    throw invalidResponse(
      status,
      `The token endpoint answered with token_type "${tokenType}"; only Bearer tokens are supported.`,
    );
  }
  return {
    accessToken,
    tokenType: "Bearer",
    expiresInSeconds,
    refreshInSeconds: toSeconds(object.refresh_in),
  };
}
