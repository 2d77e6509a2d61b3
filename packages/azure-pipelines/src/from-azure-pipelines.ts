import {
  type AssertionContext,
  type AssertionFunc,
  appendQuery,
  CredentialUnavailableError,
  checkTimeoutInMs,
  createTransport,
  describeUrl,
  type JwtClaims,
  logger,
  type Transport,
  type TransportOptions,
} from "@fedcred/core";
import { requestOidcToken } from "./oidc-token-request.js";

/**
 * The environment variable holding the job's OIDC token endpoint (`System.OidcRequestUri`), set
 * by Azure Pipelines in every step.
 *
 * @example
 * ```ts
 * import { SYSTEM_OIDCREQUESTURI } from "@fedcred/azure-pipelines";
 *
 * const inPipelines = Boolean(process.env[SYSTEM_OIDCREQUESTURI]);
 * ```
 */
export const SYSTEM_OIDCREQUESTURI = "SYSTEM_OIDCREQUESTURI";

/**
 * The environment variable holding the job's `System.AccessToken`. Azure Pipelines sets it only
 * when the step maps it: `env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }`.
 *
 * @example
 * ```ts
 * import { SYSTEM_ACCESSTOKEN } from "@fedcred/azure-pipelines";
 *
 * const mapped = Boolean(process.env[SYSTEM_ACCESSTOKEN]);
 * ```
 */
export const SYSTEM_ACCESSTOKEN = "SYSTEM_ACCESSTOKEN";

/**
 * The environment variable the `AzureCLI@2` and `AzurePowerShell@5` tasks set to their Azure
 * service connection's id.
 *
 * @example
 * ```ts
 * import { AZURESUBSCRIPTION_SERVICE_CONNECTION_ID } from "@fedcred/azure-pipelines";
 *
 * const serviceConnectionId = process.env[AZURESUBSCRIPTION_SERVICE_CONNECTION_ID];
 * ```
 */
export const AZURESUBSCRIPTION_SERVICE_CONNECTION_ID = "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID";

/**
 * Options of {@link fromAzurePipelines}.
 *
 * @example
 * ```ts
 * import type { FromAzurePipelinesOptions } from "@fedcred/azure-pipelines";
 *
 * const options: FromAzurePipelinesOptions = {
 *   serviceConnectionId: "6f2b1c9e-3a5d-4c1e-9f0a-2b7d8e4c6a10",
 *   systemAccessToken: process.env.SYSTEM_ACCESSTOKEN,
 * };
 * ```
 */
export interface FromAzurePipelinesOptions {
  /**
   * The id (a GUID) of the Azure service connection whose federated credential Entra trusts: the
   * `resourceId` in its URL under Project settings > Service connections. Default:
   * `AZURESUBSCRIPTION_SERVICE_CONNECTION_ID` (set inside `AzureCLI@2` and `AzurePowerShell@5`).
   */
  serviceConnectionId?: string;
  /** The job's `System.AccessToken`. Default: `SYSTEM_ACCESSTOKEN`, read on every call. */
  systemAccessToken?: string;
  /** The job's OIDC endpoint. Default: `SYSTEM_OIDCREQUESTURI`, read on every call. */
  oidcRequestUri?: string;
  /** One deadline per attempt (connection, headers and body), 1 to 600 000 ms. Default 10 000. */
  requestTimeoutInMs?: number;
  /** Proxy and TLS settings, or a `fetch` / `httpClient` to send with. Default: the environment's proxy variables. */
  transportOptions?: TransportOptions;
}

/** The api-version of the OIDC token API the Azure SDKs use. */
const API_VERSION = "7.1";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TIMEOUT_MS = 600_000;
const WHERE_TO_FIND =
  "the service connection's id, a GUID: the resourceId in its URL under Project settings > Service connections";

function describeValue(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

function checkOptions(options: FromAzurePipelinesOptions): void {
  const { serviceConnectionId, systemAccessToken, oidcRequestUri, requestTimeoutInMs } = options;
  const invalid = (message: string): CredentialUnavailableError =>
    new CredentialUnavailableError(message, "invalid_configuration");
  if (
    serviceConnectionId !== undefined &&
    (typeof serviceConnectionId !== "string" || !GUID.test(serviceConnectionId.trim()))
  ) {
    throw invalid(
      `options.serviceConnectionId must be ${WHERE_TO_FIND}; got ${describeValue(serviceConnectionId)}.`,
    );
  }
  if (
    systemAccessToken !== undefined &&
    (typeof systemAccessToken !== "string" || systemAccessToken.trim() === "")
  ) {
    // Never the value: it is a credential.
    throw invalid(
      `options.systemAccessToken must be the job's System.AccessToken as a non-empty string, got ${typeof systemAccessToken === "string" ? "an empty one" : typeof systemAccessToken}.`,
    );
  }
  if (
    oidcRequestUri !== undefined &&
    (typeof oidcRequestUri !== "string" || !URL.canParse(oidcRequestUri))
  ) {
    throw invalid(
      `options.oidcRequestUri must be an absolute URL (the job's ${SYSTEM_OIDCREQUESTURI}), got ${typeof oidcRequestUri === "string" ? "a string that is not one" : typeof oidcRequestUri}.`,
    );
  }
  if (requestTimeoutInMs !== undefined) {
    checkTimeoutInMs(requestTimeoutInMs, "options.requestTimeoutInMs", MAX_TIMEOUT_MS);
  }
}

interface Endpoint {
  url: URL;
  systemAccessToken: string;
  serviceConnectionId: string;
}

/** What the request needs, from the options or, on every call, the environment. */
function endpoint(options: FromAzurePipelinesOptions): Endpoint {
  const rawUri = options.oidcRequestUri ?? process.env[SYSTEM_OIDCREQUESTURI];
  if (!rawUri) {
    throw new CredentialUnavailableError(
      `No Azure Pipelines OIDC token can be requested here: ${SYSTEM_OIDCREQUESTURI} is not set. Azure Pipelines sets it in every step of a job; outside a pipeline, pass options.oidcRequestUri or use another assertion source.`,
      "missing_configuration",
    );
  }
  const systemAccessToken = (options.systemAccessToken ?? process.env[SYSTEM_ACCESSTOKEN])?.trim();
  if (!systemAccessToken) {
    throw new CredentialUnavailableError(
      `${SYSTEM_ACCESSTOKEN} is not set: Azure Pipelines never gives System.AccessToken to a step by itself. Map it in the step that runs this code:\n  env:\n    SYSTEM_ACCESSTOKEN: $(System.AccessToken)\nor pass options.systemAccessToken.`,
      "missing_configuration",
    );
  }
  if (/[^\x21-\x7e]/.test(systemAccessToken)) {
    // Node would refuse it as a header with a bare TypeError; its value is never shown.
    throw new CredentialUnavailableError(
      `${options.systemAccessToken !== undefined ? "options.systemAccessToken" : SYSTEM_ACCESSTOKEN} holds a space, a line break or another character System.AccessToken never has (its value is not shown): map $(System.AccessToken) unchanged.`,
      "invalid_configuration",
    );
  }
  const fromEnvironment = process.env[AZURESUBSCRIPTION_SERVICE_CONNECTION_ID]?.trim();
  const serviceConnectionId = options.serviceConnectionId?.trim() ?? fromEnvironment;
  if (!serviceConnectionId) {
    throw new CredentialUnavailableError(
      `No service connection is named: pass options.serviceConnectionId (${WHERE_TO_FIND}), or run in an AzureCLI@2 or AzurePowerShell@5 step, which sets ${AZURESUBSCRIPTION_SERVICE_CONNECTION_ID}.`,
      "missing_configuration",
    );
  }
  if (!GUID.test(serviceConnectionId)) {
    throw new CredentialUnavailableError(
      `${AZURESUBSCRIPTION_SERVICE_CONNECTION_ID} must be ${WHERE_TO_FIND}; got ${JSON.stringify(serviceConnectionId.slice(0, 80))}.`,
      "invalid_configuration",
    );
  }
  let url: URL;
  try {
    url = new URL(rawUri);
  } catch {
    throw new CredentialUnavailableError(
      `${SYSTEM_OIDCREQUESTURI} is not an absolute URL: it must be the value Azure Pipelines set, unchanged.`,
      "invalid_configuration",
    );
  }
  return { url, systemAccessToken, serviceConnectionId };
}

/** What Azure DevOps's rules say about a FIC that does not match the token Entra refused. */
function describeRefusal(
  codes: readonly number[],
  claims: JwtClaims | undefined,
): string | undefined {
  const quoted = (value: unknown): string => JSON.stringify(String(value ?? "?"));
  const fromPage =
    "copy the issuer and subject shown on the service connection's page (Workload Identity federation details) into the federated credential";
  if (codes.includes(700213) || codes.includes(7002138)) {
    return `The token's subject is ${quoted(claims?.sub)}. With the Azure DevOps issuer it is "sc://{organization}/{project}/{service connection name}", so renaming the organization, project or service connection changes it: ${fromPage}.`;
  }
  if (codes.includes(700211)) {
    return `The token's issuer is ${quoted(claims?.iss)}: a service connection uses either the Azure DevOps issuer (https://vstoken.dev.azure.com/{organizationId}) or, once created or converted since late 2025, the Microsoft Entra issuer (https://login.microsoftonline.com/{tenantId}/v2.0); ${fromPage}.`;
  }
  if (codes.includes(700212)) {
    return `The token's audience is ${quoted(claims?.aud)}: the federated credential's audiences must include it (api://AzureADTokenExchange).`;
  }
  return undefined;
}

/**
 * A client assertion from Azure Pipelines: the job's OIDC token for an Azure service connection
 * (`POST {SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId={id}`, bearer
 * `System.AccessToken`), requested anew on every call (the credential calls it once per token
 * request; the tokens live 10 minutes).
 *
 * Option mistakes throw at once; a step without the variables fails each call with a
 * `CredentialUnavailableError` (`missing_configuration`) that says what to set (for
 * `SYSTEM_ACCESSTOKEN`, the YAML that maps it), so a chain of sources moves on. 429, 5xx and
 * network failures are tried three times in all, then reported as `CredentialUnavailableError`
 * (`assertion_unavailable`); refusals (a rejected access token, an unknown or unauthorized
 * service connection), answers without an `oidcToken` JWT, redirects and oversized bodies are
 * `AuthenticationError`s naming the fix and Azure DevOps's `x-vss-e2eid` / `x-msedge-ref`.
 * `context.abortSignal` is honoured. When Entra finds no federated credential for the token
 * (AADSTS700211/700212/700213), the credential's error adds Azure DevOps's rules for the issuer
 * and subject, with the token's own. Neither the access token nor the OIDC token ever reaches an
 * error or a log line.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromAzurePipelines } from "@fedcred/azure-pipelines";
 *
 * // In a step with env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }.
 * const credential = new ClientAssertionCredential(
 *   "<tenant id of the service connection>",
 *   "<client id of the service connection>",
 *   fromAzurePipelines({ serviceConnectionId: "6f2b1c9e-3a5d-4c1e-9f0a-2b7d8e4c6a10" }),
 * );
 * ```
 */
export function fromAzurePipelines(options: FromAzurePipelinesOptions = {}): AssertionFunc {
  options ??= {};
  checkOptions(options);
  const timeoutInMs = options.requestTimeoutInMs ?? 10_000;
  let transport: Transport | undefined;

  const getAssertion: AssertionFunc = async (context?: AssertionContext): Promise<string> => {
    const { url, systemAccessToken, serviceConnectionId } = endpoint(options);
    const display = describeUrl(url);
    const query = `api-version=${API_VERSION}&serviceConnectionId=${encodeURIComponent(serviceConnectionId)}`;
    transport ??= createTransport(options.transportOptions);
    logger.info(
      `requesting an Azure Pipelines OIDC token for service connection ${serviceConnectionId} from ${display}`,
    );
    return requestOidcToken(transport, {
      url: appendQuery(url, query),
      display,
      systemAccessToken,
      serviceConnectionId,
      timeoutInMs,
      signal: context?.abortSignal,
    });
  };
  getAssertion.describeRefusal = describeRefusal;
  return getAssertion;
}
