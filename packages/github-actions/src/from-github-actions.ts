import {
  type AssertionContext,
  type AssertionFunc,
  appendQuery,
  CredentialUnavailableError,
  checkTimeoutInMs,
  createTransport,
  describeUrl,
  exchangeAudienceFor,
  type JwtClaims,
  logger,
  type Transport,
  type TransportOptions,
} from "@fedcred/core";
import { requestIdToken } from "./id-token-request.js";

/**
 * The environment variable holding the job's ID-token endpoint, set by the runner for jobs with
 * `permissions: id-token: write`.
 *
 * @example
 * ```ts
 * import { ACTIONS_ID_TOKEN_REQUEST_URL } from "@fedcred/github-actions";
 *
 * const inActions = Boolean(process.env[ACTIONS_ID_TOKEN_REQUEST_URL]);
 * ```
 */
export const ACTIONS_ID_TOKEN_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL";

/**
 * The environment variable holding the bearer token of the job's ID-token endpoint.
 *
 * @example
 * ```ts
 * import { ACTIONS_ID_TOKEN_REQUEST_TOKEN } from "@fedcred/github-actions";
 *
 * const canRequest = Boolean(process.env[ACTIONS_ID_TOKEN_REQUEST_TOKEN]);
 * ```
 */
export const ACTIONS_ID_TOKEN_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/**
 * Options of {@link fromGitHubActions}.
 *
 * @example
 * ```ts
 * import type { FromGitHubActionsOptions } from "@fedcred/github-actions";
 *
 * const options: FromGitHubActionsOptions = { audience: "api://AzureADTokenExchange", requestTimeoutInMs: 5_000 };
 * ```
 */
export interface FromGitHubActionsOptions {
  /**
   * The `aud` of the ID token: the audience of the Entra federated identity credential. Default:
   * `api://AzureADTokenExchange`, or `api://AzureADTokenExchangeUSGov` / `api://AzureADTokenExchangeChina`
   * when the credential's authority host is Azure US Government's / Azure China's.
   */
  audience?: string;
  /** The job's ID-token endpoint. Default: `ACTIONS_ID_TOKEN_REQUEST_URL`, read on every call. */
  idTokenRequestUrl?: string;
  /** Its bearer token. Default: `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, read on every call. */
  idTokenRequestToken?: string;
  /** One deadline per attempt (connection, headers and body), 1 to 600 000 ms. Default 10 000. */
  requestTimeoutInMs?: number;
  /** Proxy and TLS settings, or a `fetch` / `httpClient` to send with. Default: the environment's proxy variables. */
  transportOptions?: TransportOptions;
}

const MAX_TIMEOUT_MS = 600_000;

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

function checkOptions(options: FromGitHubActionsOptions): void {
  const { audience, idTokenRequestUrl, idTokenRequestToken, requestTimeoutInMs } = options;
  const invalid = (message: string): CredentialUnavailableError =>
    new CredentialUnavailableError(message, "invalid_configuration");
  if (audience !== undefined && (typeof audience !== "string" || !/^\S+$/.test(audience))) {
    throw invalid(
      `options.audience must be a non-empty string without spaces (the audience of the Entra federated credential), got ${describeValue(audience)}.`,
    );
  }
  if (idTokenRequestUrl !== undefined) {
    if (typeof idTokenRequestUrl !== "string" || !URL.canParse(idTokenRequestUrl)) {
      throw invalid(
        `options.idTokenRequestUrl must be an absolute URL (the job's ${ACTIONS_ID_TOKEN_REQUEST_URL}), got ${typeof idTokenRequestUrl === "string" ? "a string that is not one" : typeof idTokenRequestUrl}.`,
      );
    }
  }
  if (
    idTokenRequestToken !== undefined &&
    (typeof idTokenRequestToken !== "string" || idTokenRequestToken.trim() === "")
  ) {
    // Never the value: it is a credential.
    throw invalid(
      `options.idTokenRequestToken must be a non-empty string (the job's ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}), got ${typeof idTokenRequestToken === "string" ? "an empty one" : typeof idTokenRequestToken}.`,
    );
  }
  if (requestTimeoutInMs !== undefined) {
    checkTimeoutInMs(requestTimeoutInMs, "options.requestTimeoutInMs", MAX_TIMEOUT_MS);
  }
}

/** The endpoint and bearer token, from the options or, on every call, the environment. */
function endpoint(options: FromGitHubActionsOptions): { url: URL; requestToken: string } {
  const rawUrl = options.idTokenRequestUrl ?? process.env[ACTIONS_ID_TOKEN_REQUEST_URL];
  const requestToken = options.idTokenRequestToken ?? process.env[ACTIONS_ID_TOKEN_REQUEST_TOKEN];
  const missing = [
    rawUrl ? undefined : ACTIONS_ID_TOKEN_REQUEST_URL,
    requestToken?.trim() ? undefined : ACTIONS_ID_TOKEN_REQUEST_TOKEN,
  ].filter((name) => name !== undefined);
  if (missing.length > 0) {
    throw new CredentialUnavailableError(
      `No GitHub Actions ID token can be requested here: ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not set. The runner sets both only for jobs allowed to request one: add "permissions: id-token: write" to the workflow or the job (workflows of pull requests from forks never get them). Outside GitHub Actions, pass options.idTokenRequestUrl and options.idTokenRequestToken, or use another assertion source.`,
      "missing_configuration",
    );
  }
  let url: URL;
  try {
    url = new URL(rawUrl as string);
  } catch {
    throw new CredentialUnavailableError(
      `${ACTIONS_ID_TOKEN_REQUEST_URL} is not an absolute URL: it must be the value the runner set, unchanged.`,
      "invalid_configuration",
    );
  }
  const token = (requestToken as string).trim();
  if (/[^\x21-\x7e]/.test(token)) {
    // Node would refuse it as a header with a bare TypeError; its value is never shown.
    throw new CredentialUnavailableError(
      `${options.idTokenRequestToken !== undefined ? "options.idTokenRequestToken" : ACTIONS_ID_TOKEN_REQUEST_TOKEN} holds a space, a line break or another character a bearer token never has (its value is not shown): it must be the value the runner set, unchanged.`,
      "invalid_configuration",
    );
  }
  return { url, requestToken: token };
}

/** What GitHub's rules say about a FIC that does not match the ID token Entra refused. */
function describeRefusal(
  codes: readonly number[],
  claims: JwtClaims | undefined,
): string | undefined {
  const quoted = (value: unknown): string => JSON.stringify(String(value ?? "?"));
  if (codes.includes(700213) || codes.includes(7002138)) {
    return `GitHub Actions sets the subject from the job: "repo:{owner}/{repo}:environment:{name}" when the job names an environment, else "repo:{owner}/{repo}:ref:{ref}" (or ":pull_request" in pull-request workflows), unless the repository customized its subject template. This job's ID token has the subject ${quoted(claims?.sub)}: register a federated credential with exactly that subject.`;
  }
  if (codes.includes(700211)) {
    return `This job's ID token has the issuer ${quoted(claims?.iss)}: the federated credential's issuer must be exactly that (https://token.actions.githubusercontent.com, or with the enterprise's slug when the enterprise customized its issuer).`;
  }
  if (codes.includes(700212)) {
    return `This job's ID token was asked for the audience ${quoted(claims?.aud)}: add it to the federated credential's audiences, or set options.audience to the one registered.`;
  }
  return undefined;
}

/**
 * A client assertion from GitHub Actions: the job's OIDC ID token, requested from the runner's
 * token service (`GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=...`, bearer
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN`) anew on every call. The credential calls it once per token
 * request, so a long job never sends an expired ID token (they live minutes).
 *
 * The audience is `options.audience`, else the one of the credential's cloud. Option mistakes
 * throw at once; a job without the variables fails each call with a `CredentialUnavailableError`
 * (`missing_configuration`), so a chain of sources moves on. 429, 5xx and network failures are
 * tried three times in all, then reported as `CredentialUnavailableError` (`assertion_unavailable`);
 * refusals (401, 403, 404, ...), answers without a JWT in `value`, redirects and oversized
 * bodies are `AuthenticationError`s. `context.abortSignal` is honoured. When Entra finds no
 * federated credential for the ID token (AADSTS700211/700212/700213), the credential's error
 * adds GitHub's rules for the issuer, audience or subject, with the token's own. Neither the request
 * token nor the ID token ever reaches an error or a log line.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromGitHubActions } from "@fedcred/github-actions";
 *
 * // In a job with `permissions: id-token: write`.
 * const credential = new ClientAssertionCredential(
 *   process.env.AZURE_TENANT_ID!,
 *   process.env.AZURE_CLIENT_ID!,
 *   fromGitHubActions(),
 * );
 * ```
 */
export function fromGitHubActions(options: FromGitHubActionsOptions = {}): AssertionFunc {
  options ??= {};
  checkOptions(options);
  const timeoutInMs = options.requestTimeoutInMs ?? 10_000;
  let transport: Transport | undefined;

  const getAssertion: AssertionFunc = async (context?: AssertionContext): Promise<string> => {
    const { url, requestToken } = endpoint(options);
    const audience = options.audience ?? exchangeAudienceFor(context?.authorityHost);
    const display = describeUrl(url);
    // The runner's URL already holds a query (api-version): append to it, as @actions/core does.
    const requestUrl = appendQuery(url, `audience=${encodeURIComponent(audience)}`);
    transport ??= createTransport(options.transportOptions);
    logger.info(`requesting a GitHub Actions ID token for audience ${audience} from ${display}`);
    return requestIdToken(transport, {
      url: requestUrl,
      display,
      requestToken,
      audience,
      timeoutInMs,
      signal: context?.abortSignal,
    });
  };
  getAssertion.describeRefusal = describeRefusal;
  return getAssertion;
}
