import {
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  checkSourceJwt,
  checkTimeoutInMs,
  createTransport,
  type HttpResponse,
  isRetryableTransportError,
  type MemoizedAssertion,
  memoizeAssertionPerAudience,
  quoteServerText,
  type RetryOptions,
  retryAfterInMs,
  sendWithRetries,
  type Transport,
} from "@fedcred/core";
import { type IdentityEndpoint, resolveEndpoint } from "./identity-endpoint.js";

/**
 * Options of {@link fromManagedIdentity}. At most one of `clientId`, `resourceId` and `objectId`.
 *
 * @example
 * ```ts
 * import type { ManagedIdentityOptions } from "@fedcred/managed-identity";
 *
 * const options: ManagedIdentityOptions = { clientId: "6a1f2b3c-0000-4000-8000-000000000001" };
 * ```
 */
export interface ManagedIdentityOptions {
  /** A user-assigned identity's client id (a GUID). Default: the system-assigned identity. */
  clientId?: string;
  /** A user-assigned identity's ARM resource id (`/subscriptions/.../userAssignedIdentities/{name}`). */
  resourceId?: string;
  /** A user-assigned identity's object (principal) id (a GUID). */
  objectId?: string;
  /**
   * The identity endpoint's URL. Default: `IDENTITY_ENDPOINT` (with `IDENTITY_HEADER`: App
   * Service, Functions, Container Apps), else IMDS at `http://169.254.169.254` (or
   * `AZURE_POD_IDENTITY_AUTHORITY_HOST`). With `identityHeader` or `IDENTITY_HEADER` set, it is
   * spoken to as App Service's endpoint, else as IMDS (a bare host gets IMDS's token path).
   * Plain http goes only to loopback hosts and link-local addresses (`169.254.x.x`).
   */
  endpoint?: string;
  /** App Service's identity header secret. Default `IDENTITY_HEADER`. */
  identityHeader?: string;
  /**
   * The resource the managed identity's token is asked for: its `aud`, which the federated
   * identity credential must list. Default: the token exchange audience of the credential's
   * cloud, from its `authorityHost`: `api://AzureADTokenExchange`,
   * `api://AzureADTokenExchangeUSGov` (login.microsoftonline.us, login.usgovcloudapi.net) or
   * `api://AzureADTokenExchangeChina` (login.chinacloudapi.cn, login.partner.microsoftonline.cn).
   */
  audience?: string;
  /** One deadline for each request to the identity endpoint, in milliseconds. Default 10 000. */
  requestTimeoutInMs?: number;
  /**
   * Retries of 404, 410, 429 and 5xx answers, as IMDS asks: default 3 retries, 800 ms doubling,
   * each wait (and `Retry-After`) at most 10 000 ms.
   */
  retryOptions?: RetryOptions;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** A managed identity token is 1 to 3 KiB; the JSON around it is small. */
const MAX_BODY_BYTES = 64 * 1024;
/** IMDS's guidance: retry 404 (identity not yet ready), 410 (IMDS updating), 429 and 5xx. */
const RETRYABLE = (status: number): boolean =>
  status === 404 || status === 410 || status === 429 || (status >= 500 && status <= 599);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** MSAL refreshes managed identity tokens that live 2 hours or more at half their lifetime. */
const HALF_LIFE_FROM_MS = 2 * 3600_000;

interface Selector {
  option: "clientId" | "resourceId" | "objectId";
  value: string;
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}.`,
    );
  }
  return value as number;
}

function selectorOf(options: ManagedIdentityOptions): Selector | undefined {
  const given = (["clientId", "resourceId", "objectId"] as const).filter(
    (option) => options[option] !== undefined,
  );
  if (given.length > 1) {
    throw invalid(
      `Pass at most one of options.clientId, options.resourceId and options.objectId, got ${given.map((option) => `options.${option}`).join(" and ")}.`,
    );
  }
  const [option] = given;
  if (option === undefined) return undefined;
  const value = options[option];
  if (option === "resourceId") {
    if (
      typeof value !== "string" ||
      !/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^?#]+$/i.test(value)
    ) {
      throw invalid(
        `options.resourceId must be the identity's ARM resource id, /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}, got ${JSON.stringify(String(value).slice(0, 200))}.`,
      );
    }
  } else if (typeof value !== "string" || !GUID.test(value)) {
    throw invalid(
      `options.${option} must be the identity's ${option === "clientId" ? "client" : "object (principal)"} id, a GUID, got ${JSON.stringify(String(value).slice(0, 100))}.`,
    );
  }
  return { option, value };
}

/**
 * An assertion from an Azure managed identity: its access token for `api://AzureADTokenExchange`,
 * from IMDS (`GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://AzureADTokenExchange`
 * with `Metadata: true`) on VMs, scale sets, AKS nodes and Azure Container Instances, or from
 * the identity endpoint of App Service, Functions and Container Apps (`IDENTITY_ENDPOINT`,
 * `X-IDENTITY-HEADER`, `api-version=2019-08-01`). An app registration, in the same or another
 * tenant, trusts it through a federated identity credential with issuer
 * `https://login.microsoftonline.com/{the identity's tenant}/v2.0` and subject the identity's
 * object (principal) id: an app in one tenant gets tokens of another without a secret.
 *
 * The token (a managed identity token lives up to a day) is kept until half its lifetime has
 * passed; concurrent calls share one request; `context.forceRefresh` (Entra said AADSTS700024)
 * asks again. 404, 410, 429 and 5xx are retried with backoff. Requests go through core's
 * transport, never through a proxy. `AZURE_CLIENT_ID` is not read: it names the app that
 * federates, not the managed identity.
 *
 * @throws {@link CredentialUnavailableError} at once for invalid options, two identity selectors,
 *   or an endpoint variable that cannot be used (`invalid_configuration`). Calls reject with
 *   `CredentialUnavailableError` (`assertion_unavailable`) when no identity endpoint answers,
 *   IMDS has no identity to give (none is assigned), or the environment is a managed identity
 *   source this package does not speak (Azure Arc, Service Fabric); with `AuthenticationError`
 *   (`assertion_failed`) when the endpoint refuses (the identity named by `clientId`,
 *   `resourceId` or `objectId` is not assigned, the identity header is wrong), keeps failing, or
 *   answers without a token.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromManagedIdentity } from "@fedcred/managed-identity";
 *
 * // A VM in tenant A with a user-assigned identity; the app lives in tenant B.
 * const credential = new ClientAssertionCredential(
 *   tenantB,
 *   appClientId,
 *   fromManagedIdentity({ clientId: managedIdentityClientId }),
 * );
 * ```
 */
export function fromManagedIdentity(options: ManagedIdentityOptions = {}): AssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw invalid("fromManagedIdentity takes an options object, such as { clientId }.");
  }
  const selector = selectorOf(options);
  const audience = options.audience;
  if (audience !== undefined && (typeof audience !== "string" || audience.trim() === "")) {
    throw invalid(
      "options.audience must be a non-empty string, such as api://AzureADTokenExchange.",
    );
  }
  if (
    options.identityHeader !== undefined &&
    (typeof options.identityHeader !== "string" || options.identityHeader.trim() === "")
  ) {
    throw invalid("options.identityHeader must be a non-empty string.");
  }
  const endpoint = resolveEndpoint(options.endpoint, options.identityHeader, process.env);
  const timeoutInMs = checkTimeoutInMs(
    options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS,
    "options.requestTimeoutInMs",
  );
  const retry = options.retryOptions ?? {};
  const retries = {
    maxRetries: wholeNumber(retry.maxRetries ?? 3, "options.retryOptions.maxRetries", 0, 100),
    retryDelayInMs: wholeNumber(
      retry.retryDelayInMs ?? 800,
      "options.retryOptions.retryDelayInMs",
      0,
      2 ** 31 - 1,
    ),
    maxRetryDelayInMs: wholeNumber(
      retry.maxRetryDelayInMs ?? 10_000,
      "options.retryOptions.maxRetryDelayInMs",
      0,
      2 ** 31 - 1,
    ),
  };

  let transport: Transport | undefined;
  return memoizeAssertionPerAudience(
    audience,
    (resource) =>
      async (context): Promise<MemoizedAssertion> => {
        if (endpoint.unsupported !== undefined) {
          throw new CredentialUnavailableError(endpoint.unsupported, "assertion_unavailable");
        }
        transport ??= createTransport();
        const startedAt = Date.now();
        const response = await send(transport, endpoint, resource, selector, retries, {
          signal: context.abortSignal,
          timeoutInMs,
        });
        return tokenOf(response, endpoint, resource, selector, startedAt);
      },
  );
}

/** The URL of one token request. */
function requestUrl(
  endpoint: IdentityEndpoint,
  resource: string,
  selector: Selector | undefined,
): string {
  const url = new URL(endpoint.url);
  url.searchParams.set("api-version", endpoint.kind === "imds" ? "2018-02-01" : "2019-08-01");
  url.searchParams.set("resource", resource);
  if (selector !== undefined) {
    const names =
      endpoint.kind === "imds"
        ? { clientId: "client_id", resourceId: "msi_res_id", objectId: "object_id" }
        : { clientId: "client_id", resourceId: "mi_res_id", objectId: "principal_id" };
    url.searchParams.set(names[selector.option], selector.value);
  }
  return url.href;
}

function endpointName(endpoint: IdentityEndpoint): string {
  const where = `${endpoint.url.origin}${endpoint.url.pathname}`;
  return endpoint.kind === "imds"
    ? `the managed identity endpoint (IMDS) at ${where}`
    : `the managed identity endpoint at ${where} (${endpoint.source})`;
}

/** GETs a token, retrying what IMDS says to retry; a network failure means "no endpoint here". */
function send(
  transport: Transport,
  endpoint: IdentityEndpoint,
  resource: string,
  selector: Selector | undefined,
  retries: Required<RetryOptions>,
  request: { signal: AbortSignal | undefined; timeoutInMs: number },
): Promise<{ response: HttpResponse; attempts: number }> {
  return sendWithRetries(
    transport,
    {
      url: requestUrl(endpoint, resource, selector),
      method: "GET",
      headers:
        endpoint.kind === "imds"
          ? { metadata: "true" }
          : { "x-identity-header": endpoint.identityHeader ?? "" },
      signal: request.signal,
      timeoutInMs: request.timeoutInMs,
      maxBodyBytes: MAX_BODY_BYTES,
      metadataService: true,
      urlSource: endpoint.source,
    },
    {
      maxAttempts: retries.maxRetries + 1,
      retryStatus: RETRYABLE,
      delayInMs: (attempt, response) =>
        Math.min(
          retryAfterInMs(response) ?? retries.retryDelayInMs * 2 ** (attempt - 1),
          retries.maxRetryDelayInMs,
        ),
      describeTransportFailure: (error) => describeTransportFailure(error, endpoint),
      checkResponse: (response) => checkImdsAnswered(response, endpoint),
    },
  );
}

/**
 * At 169.254.169.254 on AWS, Google Cloud and others, their own metadata service answers, never
 * Azure IMDS: it is "no managed identity here" (a chain moves on), at once, without retries.
 * Azure IMDS answers its refusals as JSON; AWS's answers 404 HTML or an empty 401 (IMDSv2), with
 * `Server: EC2ws`; Google's carries `Metadata-Flavor: Google`. A bare 404 that is not JSON is
 * retried first (IMDS answers 404 while it updates), then said the same way.
 */
function checkImdsAnswered(response: HttpResponse, endpoint: IdentityEndpoint): void {
  if (endpoint.kind !== "imds" || response.status === 200) return;
  const foreign =
    response.headers.get("metadata-flavor") !== null ||
    /ec2ws/i.test(response.headers.get("server") ?? "") ||
    (!isJsonObject(response.body) && (response.status === 401 || response.status === 403));
  if (foreign) throw notImds(response, endpoint);
}

function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

function notImds(response: HttpResponse, endpoint: IdentityEndpoint): CredentialUnavailableError {
  return new CredentialUnavailableError(
    `Something other than Azure IMDS answered at ${endpoint.url.origin}${endpoint.url.pathname} (HTTP ${response.status}, not IMDS's JSON: another cloud's metadata service?): this does not run on an Azure VM, scale set, AKS node or container instance with a managed identity.`,
    "assertion_unavailable",
  );
}

function describeTransportFailure(error: unknown, endpoint: IdentityEndpoint): Error {
  const code = (error as { code?: unknown })?.code;
  const where = endpointName(endpoint);
  if (isRetryableTransportError(error)) {
    return new CredentialUnavailableError(
      `No answer from ${where}: ${endpoint.kind === "imds" ? "this does not run on an Azure VM, scale set, AKS node or container instance with a managed identity" : `check ${endpoint.source}`}. ${(error as Error).message}`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  if (code === "redirect_refused") {
    return new CredentialUnavailableError(
      `Something other than ${where} answered, with a redirect, which fedcred never follows.`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  if (code === "invalid_configuration") return error as Error;
  return new AuthenticationError(
    `${capitalized(where)} did not give a token: ${(error as Error)?.message ?? String(error)}`,
    "assertion_failed",
    { cause: error },
  );
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The error text of an answer, short, on one line, without the identity header or anything JWT-shaped. */
function serverSaid(response: HttpResponse, endpoint: IdentityEndpoint): string {
  let text = response.body;
  try {
    const body = JSON.parse(response.body) as Record<string, unknown>;
    const parts = [body.error, body.error_description ?? body.message ?? body.Message].filter(
      (part) => typeof part === "string" && part !== "",
    );
    if (parts.length > 0) text = parts.join(": ");
  } catch {}
  text = quoteServerText(text, { secrets: [endpoint.identityHeader], maxChars: 300 });
  return text === "" ? "" : ` It said: ${JSON.stringify(text)}.`;
}

function whichIdentity(selector: Selector | undefined): string {
  return selector === undefined
    ? "the system-assigned identity"
    : `the user-assigned identity with ${selector.option} ${selector.value}`;
}

/** The token of a 200 answer, checked, with when to fetch the next; a refusal explained. */
function tokenOf(
  { response, attempts }: { response: HttpResponse; attempts: number },
  endpoint: IdentityEndpoint,
  resource: string,
  selector: Selector | undefined,
  startedAt: number,
): MemoizedAssertion {
  const where = endpointName(endpoint);
  const status = response.status;
  if (status !== 200) {
    // IMDS's 404 (an identity not ready yet) was retried; one that never became IMDS's JSON
    // came from something else at its address.
    if (endpoint.kind === "imds" && status === 404 && !isJsonObject(response.body)) {
      throw notImds(response, endpoint);
    }
    const said = serverSaid(response, endpoint);
    const after = attempts > 1 ? `, after ${attempts} attempts` : "";
    if (status === 400 && selector === undefined && /identity not found/i.test(said)) {
      throw new CredentialUnavailableError(
        `${capitalized(where)} has no managed identity to give (400 Identity not found): enable the system-assigned identity, or assign a user-assigned one and name it with options.clientId, options.resourceId or options.objectId.`,
        "assertion_unavailable",
      );
    }
    let hint = "";
    if (status === 400 && selector !== undefined) {
      hint = ` Check options.${selector.option} ${selector.value}: that identity must be assigned to this resource.`;
    } else if (status === 400 && /multiple user assigned/i.test(said)) {
      hint = " Name the identity with options.clientId, options.resourceId or options.objectId.";
    } else if (status === 401 || status === 403) {
      hint =
        endpoint.kind === "app-service"
          ? ` Check ${endpoint.identityHeaderSource}: the endpoint did not accept it.`
          : "";
    }
    throw new AuthenticationError(
      `${capitalized(where)} refused a token of ${whichIdentity(selector)} for ${resource} (HTTP ${status}${after}).${hint}${said}`,
      "assertion_failed",
      { statusCode: status },
    );
  }
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(response.body);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
    body = parsed as Record<string, unknown>;
  } catch {
    throw new AuthenticationError(
      `${capitalized(where)} answered 200 with a body that is not a JSON object.`,
      "assertion_failed",
    );
  }
  const check = checkSourceJwt(body.access_token, { requireSignature: true, checkExpiry: false });
  if (check.problem === "not_jwt") {
    throw new AuthenticationError(
      `${capitalized(where)} answered 200 without an access_token (a JWT) for ${resource}.`,
      "assertion_failed",
    );
  }
  if (check.problem !== undefined) {
    throw new AuthenticationError(
      `${capitalized(where)} answered 200 with an access_token that is not a JWT.`,
      "assertion_failed",
    );
  }
  const { token, claims } = check;
  const expiresOnTimestamp = expiryOf(body, claims.exp, startedAt);
  if (expiresOnTimestamp === undefined) {
    throw new AuthenticationError(
      `${capitalized(where)} answered 200 without expires_on, expires_in or a token exp.`,
      "assertion_failed",
    );
  }
  if (expiresOnTimestamp <= Date.now()) {
    throw new AuthenticationError(
      `${capitalized(where)} gave a token that expired at ${new Date(expiresOnTimestamp).toISOString()}: check this machine's clock.`,
      "assertion_failed",
    );
  }
  const lifetime = expiresOnTimestamp - startedAt;
  return {
    assertion: token,
    expiresOnTimestamp,
    ...(lifetime >= HALF_LIFE_FROM_MS ? { refreshAfterTimestamp: startedAt + lifetime / 2 } : {}),
  };
}

/** `expires_on` (seconds, as a number or a string), else `expires_in`, else the JWT's `exp`, in ms. */
function expiryOf(
  body: Record<string, unknown>,
  exp: unknown,
  startedAt: number,
): number | undefined {
  const number = (value: unknown): number | undefined => {
    const parsed = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    return typeof parsed === "number" && Number.isFinite(parsed) && parsed > 0 ? parsed : undefined;
  };
  const expiresOn = number(body.expires_on);
  if (expiresOn !== undefined) return expiresOn * 1000;
  const expiresIn = number(body.expires_in);
  if (expiresIn !== undefined) return startedAt + expiresIn * 1000;
  const jwtExp = number(exp);
  return jwtExp === undefined ? undefined : jwtExp * 1000;
}
