import { setTimeout as sleep } from "node:timers/promises";
import {
  AuthenticationError,
  CredentialUnavailableError,
  decodeJwtPayload,
  FedcredError,
  type HttpResponse,
  isRetryableTransportError,
  type Transport,
} from "@fedcred/core";

/** One ID-token request: where, with which bearer token, for which audience. */
export interface IdTokenCall {
  /** `ACTIONS_ID_TOKEN_REQUEST_URL` with `audience` appended. */
  url: string;
  /** Origin and path of the URL, for messages. */
  display: string;
  requestToken: string;
  audience: string;
  timeoutInMs: number;
  signal: AbortSignal | undefined;
}

/** Answers worth asking again: throttling and outages of the token service. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_MS = 5_000;
/** A GitHub ID token is 1-2 KiB; anything near this cap is not one. */
const MAX_BODY_BYTES = 64 * 1024;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** The server's own words, without the request token or anything shaped like a JWT. */
function quoteServer(body: string, requestToken: string): string {
  let said = body;
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === "string") said = message;
  } catch {
    if (/^\s*</.test(body)) return "";
  }
  said = said
    .split(requestToken)
    .join("[redacted]")
    .replace(/[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g, "[redacted]")
    .replace(/\s+/g, " ")
    .trim();
  return said === "" ? "" : ` The service said: ${JSON.stringify(said.slice(0, 300))}`;
}

function retryDelay(response: HttpResponse | undefined, attempt: number): number {
  const retryAfter = Number(response?.headers.get("retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter >= 0) {
    return Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS);
  }
  return 500 * 2 ** (attempt - 1);
}

/** A transport failure, said as one of this request; the transport's code kept. */
function describeTransportFailure(error: unknown, call: IdTokenCall): unknown {
  if (!FedcredError.isInstance(error)) return error;
  const message = `The GitHub Actions ID-token request to ${call.display} failed: ${error.message}`;
  if (isRetryableTransportError(error)) {
    return new CredentialUnavailableError(message, "assertion_unavailable", { cause: error });
  }
  return AuthenticationError.isInstance(error)
    ? new AuthenticationError(message, error.code, {
        statusCode: error.statusCode,
        cause: error,
      })
    : error;
}

function refusal(response: HttpResponse, call: IdTokenCall): FedcredError {
  const { status } = response;
  const said = quoteServer(response.body, call.requestToken);
  const where = `The GitHub Actions token service at ${call.display}`;
  if (TRANSIENT.has(status)) {
    return new CredentialUnavailableError(
      `${where} is unavailable (${status}, after ${MAX_ATTEMPTS} attempts): try again later.${said}`,
      "assertion_unavailable",
    );
  }
  let message: string;
  switch (status) {
    case 401:
    case 403:
      message = `${where} refused the request token (${status}): ACTIONS_ID_TOKEN_REQUEST_TOKEN (or options.idTokenRequestToken) must be the one the runner set for this job, and it stops working when the job ends. Check that the job has "permissions: id-token: write".${said}`;
      break;
    case 404:
      message = `${where} has no such endpoint (404): ACTIONS_ID_TOKEN_REQUEST_URL (or options.idTokenRequestUrl) must be the URL the runner set for this job, unchanged.${said}`;
      break;
    default:
      message = `${where} refused the ID-token request for audience ${JSON.stringify(call.audience)} (${status}).${said}`;
  }
  return new AuthenticationError(message, "assertion_failed", { statusCode: status });
}

/** The ID token in a 200 answer, checked: `{ "value": "<jwt>" }`, not expired. */
function idTokenOf(response: HttpResponse, call: IdTokenCall): string {
  const where = `The GitHub Actions token service at ${call.display}`;
  let document: unknown;
  try {
    document = JSON.parse(response.body);
  } catch {
    const type = response.headers.get("content-type") ?? "no content-type";
    throw new AuthenticationError(
      `${where} answered 200 with a body that is not JSON (${type}): something else answered in its place (a proxy, a sign-in page). Check ACTIONS_ID_TOKEN_REQUEST_URL and any proxy.`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  const value = (document as { value?: unknown } | null)?.value;
  if (typeof value !== "string" || !JWT.test(value.trim())) {
    throw new AuthenticationError(
      `${where} answered 200 without an ID token: the JSON has no "value" holding a JWT${typeof value === "string" ? " (it holds a string that is not one)" : ""}.`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  const token = value.trim();
  let exp: unknown;
  try {
    exp = decodeJwtPayload(token).exp;
  } catch {
    throw new AuthenticationError(
      `${where} answered 200 with a "value" that is not a JWT (its payload does not decode).`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  if (typeof exp === "number" && exp * 1000 <= Date.now()) {
    throw new AuthenticationError(
      `${where} issued an ID token that expired at ${new Date(exp * 1000).toISOString()}, before it arrived: check this machine's clock.`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  return token;
}

/**
 * Asks the token service for one ID token (`GET`, bearer request token), asking again (three
 * attempts in all) after 429, 5xx and network failures.
 */
export async function requestIdToken(transport: Transport, call: IdTokenCall): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    let response: HttpResponse | undefined;
    try {
      response = await transport.send({
        url: call.url,
        method: "GET",
        headers: { authorization: `Bearer ${call.requestToken}`, accept: "application/json" },
        signal: call.signal,
        timeoutInMs: call.timeoutInMs,
        maxBodyBytes: MAX_BODY_BYTES,
      });
    } catch (error) {
      if (call.signal?.aborted || !isRetryableTransportError(error) || attempt >= MAX_ATTEMPTS) {
        throw call.signal?.aborted ? error : describeTransportFailure(error, call);
      }
    }
    if (response !== undefined) {
      if (response.status === 200) return idTokenOf(response, call);
      if (!TRANSIENT.has(response.status) || attempt >= MAX_ATTEMPTS) {
        throw refusal(response, call);
      }
    }
    // Rejects with an AbortError when the caller gives up during the pause.
    await sleep(
      retryDelay(response, attempt),
      undefined,
      call.signal ? { signal: call.signal } : {},
    );
  }
}
