import {
  AuthenticationError,
  CredentialUnavailableError,
  checkSourceJwt,
  type FedcredError,
  type HttpResponse,
  quoteServerText,
  restateTransportFailure,
  retryAfterInMs,
  sendWithRetries,
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

/** The server's own words (its JSON `message`), without the request token or anything shaped like a JWT. */
function quoteServer(body: string, requestToken: string): string {
  let said = body;
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === "string") said = message;
  } catch {
    if (/^\s*</.test(body)) return "";
  }
  said = quoteServerText(said, { secrets: [requestToken], maxChars: 300 });
  return said === "" ? "" : ` The service said: ${JSON.stringify(said)}`;
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
  const check = checkSourceJwt(value);
  if (check.problem === "not_jwt") {
    throw new AuthenticationError(
      `${where} answered 200 without an ID token: the JSON has no "value" holding a JWT${typeof value === "string" ? " (it holds a string that is not one)" : ""}.`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  if (check.problem === "payload_not_json") {
    throw new AuthenticationError(
      `${where} answered 200 with a "value" that is not a JWT (its payload does not decode).`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  if (check.problem === "expired") {
    throw new AuthenticationError(
      `${where} issued an ID token that expired at ${new Date(check.expiresOnTimestamp).toISOString()}, before it arrived: check this machine's clock.`,
      "assertion_failed",
      { statusCode: 200 },
    );
  }
  return check.token;
}

/**
 * Asks the token service for one ID token (`GET`, bearer request token), asking again (three
 * attempts in all) after 429, 5xx and network failures.
 */
export async function requestIdToken(transport: Transport, call: IdTokenCall): Promise<string> {
  const { response } = await sendWithRetries(
    transport,
    {
      url: call.url,
      method: "GET",
      headers: { authorization: `Bearer ${call.requestToken}`, accept: "application/json" },
      signal: call.signal,
      timeoutInMs: call.timeoutInMs,
      maxBodyBytes: MAX_BODY_BYTES,
      urlSource: "options.idTokenRequestUrl or ACTIONS_ID_TOKEN_REQUEST_URL",
    },
    {
      maxAttempts: MAX_ATTEMPTS,
      retryStatus: (status) => TRANSIENT.has(status),
      retryTransportErrors: true,
      delayInMs: (attempt, answer) =>
        Math.min(retryAfterInMs(answer) ?? 500 * 2 ** (attempt - 1), MAX_RETRY_AFTER_MS),
      describeTransportFailure: (error) =>
        restateTransportFailure(
          error,
          (said) => `The GitHub Actions ID-token request to ${call.display} failed: ${said}`,
        ),
    },
  );
  if (response.status === 200) return idTokenOf(response, call);
  throw refusal(response, call);
}
