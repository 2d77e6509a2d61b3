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

/** One OIDC token request of a pipeline job. */
export interface OidcTokenCall {
  /** `SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=...`. */
  url: string;
  /** Origin and path of the URL, for messages. */
  display: string;
  systemAccessToken: string;
  serviceConnectionId: string;
  timeoutInMs: number;
  signal: AbortSignal | undefined;
}

/** Answers worth asking again: throttling and outages of Azure DevOps. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_MS = 5_000;
/** A pipeline OIDC token is 1-2 KiB; anything near this cap is not one. */
const MAX_BODY_BYTES = 64 * 1024;
const MAP_ACCESS_TOKEN =
  "map it into the step's environment (YAML: env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) })";

/** The ids Azure DevOps support asks for: `x-vss-e2eid` and `x-msedge-ref`. */
function supportIds(response: HttpResponse): string {
  const ids = ["x-vss-e2eid", "x-msedge-ref"]
    .map((name) => [name, response.headers.get(name)] as const)
    .filter((pair): pair is readonly [string, string] => Boolean(pair[1]))
    .map(([name, value]) => `${name}: ${value.slice(0, 100)}`);
  return ids.length === 0 ? "" : ` (${ids.join(", ")})`;
}

/** Azure DevOps's own words (its error document's `message`), without secrets. */
function quoteServer(response: HttpResponse, systemAccessToken: string): string {
  let said: string | undefined;
  try {
    const message = (JSON.parse(response.body) as { message?: unknown }).message;
    if (typeof message === "string") said = message;
  } catch {
    const header = response.headers.get("x-tfs-serviceerror");
    if (header) {
      try {
        said = decodeURIComponent(header);
      } catch {
        said = header;
      }
    }
  }
  if (!said) return "";
  said = quoteServerText(said, { secrets: [systemAccessToken], maxChars: 300 });
  return said === "" ? "" : ` Azure DevOps said: ${JSON.stringify(said)}`;
}

function isHtml(response: HttpResponse): boolean {
  return /html/i.test(response.headers.get("content-type") ?? "") || /^\s*</.test(response.body);
}

function refusal(response: HttpResponse, call: OidcTokenCall): FedcredError {
  const { status } = response;
  const ids = supportIds(response);
  const said = quoteServer(response, call.systemAccessToken);
  const where = `Azure DevOps (${call.display})`;
  const connection = `service connection ${call.serviceConnectionId}`;
  if (TRANSIENT.has(status)) {
    return new CredentialUnavailableError(
      `${where} is unavailable (${status}, after ${MAX_ATTEMPTS} attempts)${ids}: try again later.${said}`,
      "assertion_unavailable",
    );
  }
  let message: string;
  if (status === 401 || (status === 203 && isHtml(response))) {
    message = `${where} did not accept SYSTEM_ACCESSTOKEN (${status === 203 ? "203 with a sign-in page" : "401"})${ids}: it must be this job's System.AccessToken, which expires with the job; ${MAP_ACCESS_TOKEN}, or pass options.systemAccessToken.${said}`;
  } else if (status === 403) {
    message = `${where} forbade the pipeline to use ${connection} (403)${ids}: allow this pipeline in the service connection's security settings (Pipeline permissions), and check that the build service identity may read it.${said}`;
  } else if (status === 404) {
    message = `${where} found no ${connection} for this job, or no such endpoint (404)${ids}: check options.serviceConnectionId (the service connection's id, a GUID: the resourceId in its URL under Project settings > Service connections) and that SYSTEM_OIDCREQUESTURI is the job's own.${said}`;
  } else if (status === 400) {
    message = `${where} refused the OIDC token request for ${connection} as invalid (400)${ids}.${said}`;
  } else {
    message = `${where} refused the OIDC token request for ${connection} (${status})${ids}.${said}`;
  }
  return new AuthenticationError(message, "assertion_failed", { statusCode: status });
}

/** The token in a 200 answer, checked: `{ "oidcToken": "<jwt>" }`, not expired. */
function oidcTokenOf(response: HttpResponse, call: OidcTokenCall): string {
  const where = `Azure DevOps (${call.display})`;
  const ids = supportIds(response);
  let document: unknown;
  try {
    document = JSON.parse(response.body);
  } catch {
    const type = response.headers.get("content-type") ?? "no content-type";
    throw new AuthenticationError(
      `${where} answered ${response.status} with a body that is not JSON (${type})${ids}: ${isHtml(response) ? `a sign-in page, so SYSTEM_ACCESSTOKEN was not accepted: ${MAP_ACCESS_TOKEN}` : "something else answered in its place (a proxy?): check SYSTEM_OIDCREQUESTURI and any proxy"}.`,
      "assertion_failed",
      { statusCode: response.status },
    );
  }
  const check = checkSourceJwt((document as { oidcToken?: unknown } | null)?.oidcToken);
  if (check.problem === "not_jwt") {
    throw new AuthenticationError(
      `${where} answered ${response.status} without an OIDC token${ids}: the JSON has no "oidcToken" holding a JWT.`,
      "assertion_failed",
      { statusCode: response.status },
    );
  }
  if (check.problem === "payload_not_json") {
    throw new AuthenticationError(
      `${where} answered an "oidcToken" that is not a JWT (its payload does not decode)${ids}.`,
      "assertion_failed",
      { statusCode: response.status },
    );
  }
  if (check.problem === "expired") {
    throw new AuthenticationError(
      `${where} issued an OIDC token that expired at ${new Date(check.expiresOnTimestamp).toISOString()}, before it arrived: check this machine's clock.`,
      "assertion_failed",
      { statusCode: response.status },
    );
  }
  return check.token;
}

/**
 * Asks Azure DevOps for one OIDC token (`POST`, bearer System.AccessToken, sign-in redirects
 * suppressed so a bad token gets 401), asking again (three attempts in all) after 429, 5xx and
 * network failures.
 */
export async function requestOidcToken(transport: Transport, call: OidcTokenCall): Promise<string> {
  const { response } = await sendWithRetries(
    transport,
    {
      url: call.url,
      method: "POST",
      headers: {
        authorization: `Bearer ${call.systemAccessToken}`,
        "content-type": "application/json",
        accept: "application/json",
        "x-tfs-fedauthredirect": "Suppress",
      },
      body: "",
      signal: call.signal,
      timeoutInMs: call.timeoutInMs,
      maxBodyBytes: MAX_BODY_BYTES,
      urlSource: "options.oidcRequestUri or SYSTEM_OIDCREQUESTURI",
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
          (said) => `The Azure Pipelines OIDC token request to ${call.display} failed: ${said}`,
        ),
    },
  );
  if (response.status === 200) return oidcTokenOf(response, call);
  throw refusal(response, call);
}
