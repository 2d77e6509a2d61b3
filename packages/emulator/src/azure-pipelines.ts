import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type CannedAnswer, checkCannedAnswer, playCannedAnswer } from "./canned-answer.js";
import { FaultQueue } from "./faults.js";
import { listen, readBody, sendJson } from "./http.js";
import { createSigningKey, issuerDiscovery, jwks, nowSeconds, type SigningKey } from "./keys.js";
import { serverTlsOf, type TlsAuthority } from "./tls.js";

/**
 * An Azure service connection of the project, using workload identity federation.
 *
 * @example
 * ```ts
 * const connection: AzurePipelinesServiceConnection = { id: "6f2b1c9e-0000-4000-8000-000000000001", name: "prod-deploy" };
 * ```
 */
export interface AzurePipelinesServiceConnection {
  /** The service connection's id (a GUID): the `serviceConnectionId` of token requests. */
  id: string;
  /** Its name: the last segment of the subject `sc://{organization}/{project}/{name}`. */
  name: string;
  /** Whether the pipeline may use it. Defaults to `true`; `false` answers 403 as Azure DevOps does for an unauthorized pipeline. */
  authorized?: boolean;
}

/**
 * Options of {@link startAzurePipelines}.
 *
 * @example
 * ```ts
 * const options: AzurePipelinesOptions = {
 *   organization: "contoso",
 *   project: "web",
 *   serviceConnections: [{ id: "6f2b1c9e-0000-4000-8000-000000000001", name: "prod-deploy" }],
 * };
 * ```
 */
export interface AzurePipelinesOptions {
  /** The organization's name (`dev.azure.com/{organization}`). */
  organization: string;
  /** The organization's id: the last segment of the issuer. Generated when absent. */
  organizationId?: string;
  /** The project's name. */
  project: string;
  /** Defaults to `{project}-ci`. */
  pipeline?: string;
  serviceConnections: readonly AzurePipelinesServiceConnection[];
  /** `exp - iat` of the tokens. Defaults to 600, as Azure DevOps's (their `nbf` is 600 s before `iat`). */
  tokenLifetimeSeconds?: number;
  /** Serve HTTPS with this authority's server certificate (HTTP on loopback when absent). */
  tlsAuthority?: TlsAuthority;
  host?: string;
  port?: number;
}

/**
 * One request the OIDC endpoint answered.
 *
 * @example
 * ```ts
 * const [first]: readonly AzurePipelinesRequestRecord[] = pipelines.requests;
 * first?.serviceConnectionId;
 * ```
 */
export interface AzurePipelinesRequestRecord {
  method: string;
  path: string;
  apiVersion?: string;
  serviceConnectionId?: string;
  /** Whether the request carried `Authorization: Bearer {systemAccessToken}`. */
  authorized: boolean;
  contentType?: string;
  /** The `X-TFS-FedAuthRedirect` header (`Suppress` turns sign-in redirects into 401). */
  fedAuthRedirect?: string;
  status: number;
}

/**
 * A running Azure Pipelines OIDC endpoint (`System.OidcRequestUri` of one job) and the issuer
 * (standing in for `https://vstoken.dev.azure.com/{organizationId}`) of its tokens.
 *
 * @example
 * ```ts
 * const pipelines: AzurePipelinesOidc = await startAzurePipelines(options);
 * process.env.SYSTEM_OIDCREQUESTURI = pipelines.oidcRequestUri;
 * process.env.SYSTEM_ACCESSTOKEN = pipelines.systemAccessToken;
 * ```
 */
export interface AzurePipelinesOidc {
  readonly url: string;
  readonly port: number;
  readonly organizationId: string;
  /** The `iss` of every token, and the issuer of the Entra FIC: `{url}/{organizationId}`. */
  readonly issuer: string;
  /** `SYSTEM_OIDCREQUESTURI`: `{url}/{organization}/{projectId}/_apis/distributedtask/hubs/build/plans/{planId}/jobs/{jobId}/oidctoken`. */
  readonly oidcRequestUri: string;
  /** `SYSTEM_ACCESSTOKEN`: the job's `System.AccessToken`. */
  readonly systemAccessToken: string;
  /** `sc://{organization}/{project}/{name}` of a service connection, by name or id. */
  subject(serviceConnection: string): string;
  /** Every request to the OIDC endpoint (not the issuer's documents), oldest first. */
  readonly requests: readonly AzurePipelinesRequestRecord[];
  /** Tokens minted so far. */
  readonly tokenCount: number;
  /** Answers queued for the next requests to the OIDC endpoint, played before any check. */
  readonly faults: FaultQueue<CannedAnswer>;
  /** Queues `answer` for the next `count` requests (default 1). */
  injectFault(answer: CannedAnswer, options?: { count?: number }): void;
  /** Ends the job: its access token is refused from now on. */
  endJob(): void;
  jwks(): { keys: Record<string, unknown>[] };
  close(): Promise<void>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The api-versions of the OIDC token API: 7.1 (the SDKs') and later, previews included. */
const API_VERSION = /^(\d+)\.(\d+)(-preview(\.\d+)?)?$/;

/** Azure DevOps's error document. */
function vssError(typeKey: string, message: string): Record<string, unknown> {
  return {
    $id: "1",
    innerException: null,
    message,
    typeName: `Microsoft.TeamFoundation.DistributedTask.WebApi.${typeKey}, Microsoft.TeamFoundation.DistributedTask.WebApi`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  };
}

function apiVersionError(version: string | null): Record<string, unknown> | undefined {
  if (version === null || version === "") {
    return vssError(
      "VssVersionNotSpecifiedException",
      'No api-version was supplied for the POST request. An api-version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").',
    );
  }
  const match = API_VERSION.exec(version);
  const major = Number(match?.[1]);
  const minor = Number(match?.[2]);
  if (!match) {
    return vssError(
      "VssInvalidApiVersionException",
      `The api-version '${version}' is not valid. It must be of the form {major}.{minor}[-preview[.{n}]].`,
    );
  }
  if (major < 7 || (major === 7 && minor < 1) || major > 7 || minor > 2) {
    return vssError(
      "VssVersionOutOfRangeException",
      `The requested REST API version of ${version} is out of range for this server. The oidctoken API exists from 7.1; the latest version this server supports is 7.2.`,
    );
  }
  return undefined;
}

/**
 * Starts an emulated Azure Pipelines OIDC endpoint on loopback: `POST {oidcRequestUri}?api-version=7.1&serviceConnectionId={id}`
 * with `Authorization: Bearer {systemAccessToken}` answers `{ "oidcToken": "<jwt>" }`, a token
 * with Azure DevOps's claims (`sub` `sc://{organization}/{project}/{connection}`, `org_id`,
 * `prj_id`, `def_id`, `rpo_*`, `run_id`); without `serviceConnectionId`, the pipeline's own token
 * (`p://{organization}/{project}/{pipeline}`). A wrong or missing access token gets a sign-in
 * redirect, or 401 with `X-TFS-FedAuthRedirect: Suppress`; a missing or unknown `api-version`
 * 400; an unknown service connection 404, an unauthorized one 403; another method 405. The same
 * server is the tokens' OIDC issuer.
 *
 * @example
 * ```ts
 * const pipelines = await startAzurePipelines({
 *   organization: "contoso", project: "web",
 *   serviceConnections: [{ id: "6f2b1c9e-0000-4000-8000-000000000001", name: "prod-deploy" }],
 * });
 * const response = await fetch(`${pipelines.oidcRequestUri}?api-version=7.1&serviceConnectionId=6f2b1c9e-0000-4000-8000-000000000001`, {
 *   method: "POST",
 *   headers: { authorization: `Bearer ${pipelines.systemAccessToken}`, "content-type": "application/json" },
 * });
 * const { oidcToken } = (await response.json()) as { oidcToken: string };
 * ```
 */
export async function startAzurePipelines(
  options: AzurePipelinesOptions,
): Promise<AzurePipelinesOidc> {
  for (const connection of options.serviceConnections) {
    if (!GUID.test(connection.id)) {
      throw new TypeError(`service connection ids are GUIDs, got ${JSON.stringify(connection.id)}`);
    }
  }
  const { organization, project } = options;
  const organizationId = options.organizationId ?? randomUUID();
  const projectId = randomUUID();
  const pipeline = options.pipeline ?? `${project}-ci`;
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 600;
  const planId = randomUUID();
  const jobId = randomUUID();
  const repositoryId = randomUUID();
  const runId = String(10_000 + Math.floor(Math.random() * 90_000));
  const commit = randomBytes(20).toString("hex");
  const systemAccessToken = randomBytes(48).toString("base64url");
  const tokenPath = `/${encodeURIComponent(organization)}/${projectId}/_apis/distributedtask/hubs/build/plans/${planId}/jobs/${jobId}/oidctoken`;
  const issuerPath = `/${organizationId}`;
  const key: SigningKey = await createSigningKey("RS256");
  const requests: AzurePipelinesRequestRecord[] = [];
  const faults = new FaultQueue<CannedAnswer>(checkCannedAnswer);
  let tokenCount = 0;
  let jobEnded = false;
  let base = "";

  const findConnection = (idOrName: string): AzurePipelinesServiceConnection | undefined =>
    options.serviceConnections.find(
      (connection) =>
        connection.id.toLowerCase() === idOrName.toLowerCase() || connection.name === idOrName,
    );
  const subjectOf = (connection: AzurePipelinesServiceConnection): string =>
    `sc://${organization}/${project}/${connection.name}`;

  const mint = (subject: string): Promise<string> => {
    const now = nowSeconds();
    tokenCount += 1;
    // Claims as Azure DevOps's tokens carry them (nbf 600 s before iat).
    return key.sign({
      jti: randomUUID(),
      sub: subject,
      aud: "api://AzureADTokenExchange",
      org_id: organizationId,
      prj_id: projectId,
      def_id: "42",
      rpo_id: repositoryId,
      rpo_uri: `https://dev.azure.com/${organization}/${project}/_git/${project}`,
      rpo_ver: commit,
      rpo_ref: "refs/heads/main",
      run_id: runId,
      iss: `${base}${issuerPath}`,
      nbf: now - 600,
      exp: now + lifetimeSeconds,
      iat: now,
    });
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    if (method === "GET" && url.pathname === `${issuerPath}/.well-known/openid-configuration`) {
      const issuer = `${base}${issuerPath}`;
      sendJson(response, 200, issuerDiscovery(issuer, `${issuer}/.well-known/jwks`, ["RS256"]));
      return;
    }
    if (method === "GET" && url.pathname === `${issuerPath}/.well-known/jwks`) {
      sendJson(response, 200, jwks([key]));
      return;
    }
    if (method === "GET" && url.pathname === "/_signin") {
      // Where Azure DevOps sends a request without valid credentials, unless it suppressed the redirect.
      const page =
        "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>Sign in to continue</body></html>";
      response.writeHead(203, { "content-type": "text/html; charset=utf-8" });
      response.end(page);
      return;
    }

    await readBody(request);
    const record: AzurePipelinesRequestRecord = {
      method,
      path: url.pathname,
      authorized: request.headers.authorization === `Bearer ${systemAccessToken}`,
      status: 0,
    };
    const apiVersion = url.searchParams.get("api-version");
    if (apiVersion !== null) record.apiVersion = apiVersion;
    const serviceConnectionId = url.searchParams.get("serviceConnectionId");
    if (serviceConnectionId !== null) record.serviceConnectionId = serviceConnectionId;
    if (request.headers["content-type"]) record.contentType = request.headers["content-type"];
    const fedAuthRedirect = request.headers["x-tfs-fedauthredirect"];
    if (typeof fedAuthRedirect === "string") record.fedAuthRedirect = fedAuthRedirect;
    requests.push(record);
    const headers = { "x-vss-e2eid": randomUUID(), "x-msedge-ref": `Ref A: ${randomUUID()}` };
    const answer = (status: number, body: unknown, extra: Record<string, string> = {}): void => {
      record.status = status;
      sendJson(response, status, body, { ...headers, ...extra });
    };

    const fault = faults.take();
    if (fault) {
      record.status = fault.status ?? 200;
      await playCannedAnswer(response, fault);
      return;
    }
    if (!record.authorized || jobEnded) {
      if (fedAuthRedirect?.toString().toLowerCase() !== "suppress") {
        record.status = 302;
        response.writeHead(302, {
          ...headers,
          location: `${base}/_signin?realm=dev.azure.com&reply_to=${encodeURIComponent(`${base}${url.pathname}`)}`,
          "content-length": "0",
        });
        response.end();
        return;
      }
      const message = "TF400813: The user '' is not authorized to access this resource.";
      answer(401, vssError("UnauthorizedRequestException", message), {
        "x-tfs-serviceerror": encodeURIComponent(message),
        "www-authenticate": "Bearer authorization_uri=https://login.microsoftonline.com/common",
      });
      return;
    }
    if (url.pathname !== tokenPath) {
      answer(404, vssError("NotFoundException", `The resource ${url.pathname} was not found.`));
      return;
    }
    if (method !== "POST") {
      answer(405, { message: `The requested resource does not support http method '${method}'.` });
      return;
    }
    const versionError = apiVersionError(apiVersion);
    if (versionError) {
      answer(400, versionError);
      return;
    }
    if (serviceConnectionId === null || serviceConnectionId === "") {
      answer(200, { oidcToken: await mint(`p://${organization}/${project}/${pipeline}`) });
      return;
    }
    const connection = GUID.test(serviceConnectionId)
      ? options.serviceConnections.find(
          (candidate) => candidate.id.toLowerCase() === serviceConnectionId.toLowerCase(),
        )
      : undefined;
    if (!connection) {
      answer(
        404,
        vssError(
          "ServiceEndpointNotFoundException",
          `Service connection with id '${serviceConnectionId}' could not be found. It does not exist or you do not have permissions to use it.`,
        ),
      );
      return;
    }
    if (connection.authorized === false) {
      answer(
        403,
        vssError(
          "ServiceEndpointAccessDeniedException",
          `The pipeline is not authorized to use service connection '${connection.name}'. Authorize it in the service connection's security settings (Pipeline permissions).`,
        ),
      );
      return;
    }
    answer(200, { oidcToken: await mint(subjectOf(connection)) });
  };

  const server = await listen(handler, {
    host: options.host,
    port: options.port,
    ...serverTlsOf(options.tlsAuthority),
  });
  base = server.url;

  return {
    url: server.url,
    port: server.port,
    organizationId,
    issuer: `${base}${issuerPath}`,
    oidcRequestUri: `${base}${tokenPath}`,
    systemAccessToken,
    subject(serviceConnection) {
      const connection = findConnection(serviceConnection);
      if (!connection) throw new Error(`unknown service connection ${serviceConnection}`);
      return subjectOf(connection);
    },
    requests,
    get tokenCount() {
      return tokenCount;
    },
    faults,
    injectFault: (answer, faultOptions = {}) => faults.push(answer, faultOptions.count ?? 1),
    endJob: () => {
      jobEnded = true;
    },
    jwks: () => jwks([key]) as { keys: Record<string, unknown>[] },
    close: () => server.close(),
  };
}
