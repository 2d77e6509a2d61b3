import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  decodeJwt,
  decodeProtectedHeader,
  type JWK,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from "jose";
import { mintAccessToken } from "./access-token.js";
import {
  checkCertificateAssertion,
  type RegisteredCertificate,
  registerCertificate,
} from "./certificate-assertion.js";
import {
  type ResolvedTrustedSubject,
  resolveTrustedSubject,
  type TrustedCertificateSubject,
} from "./certificate-chain.js";
import {
  instanceDiscovery,
  openIdConfigurationV1,
  openIdConfigurationV2,
} from "./entra-discovery.js";
import { type EntraRefusal, entraErrorBody, refusals } from "./entra-errors.js";
import { type Fault, FaultQueue, playFault } from "./faults.js";
import { checkFederatedAssertion, type FederatedCredential } from "./federated-assertion.js";
import { listen, newId, readBody, sendJson } from "./http.js";
import { createIssuerKeyCache } from "./issuer-key-cache.js";
import { createSigningKey, jwks, nowSeconds } from "./keys.js";

/**
 * An app registration (and its service principal) in an emulated tenant.
 *
 * @example
 * ```ts
 * const app: EntraApp = {
 *   clientId,
 *   roles: ["Storage.Read"],
 *   federatedCredentials: [{ issuer: issuer.url, subject: "ci:job", audiences: ["api://AzureADTokenExchange"] }],
 * };
 * ```
 */
export interface EntraApp {
  /** The application (client) id. */
  clientId: string;
  /** The service principal's object id, the token's `oid` and `sub`. Generated when absent. */
  objectId?: string;
  /** Federated identity credentials (at most 20, as in Entra). */
  federatedCredentials?: FederatedCredential[];
  /** PEM certificates registered as key credentials. */
  certificates?: string[];
  /**
   * Subject names and issuers trusted instead of a registered certificate (subject name +
   * issuer authentication): an assertion whose `x5c` starts with a certificate of that subject
   * chaining to that CA is accepted; without `x5c` it is refused (AADSTS700027).
   */
  trustedCertificateSubjects?: TrustedCertificateSubject[];
  /** App roles granted to the service principal: the token's `roles`. */
  roles?: string[];
}

/**
 * An emulated tenant and its apps.
 *
 * @example
 * ```ts
 * const tenant: EntraTenant = { tenantId, apps: [app], resources: ["https://storage.azure.com"] };
 * ```
 */
export interface EntraTenant {
  /** The tenant id, a GUID. */
  tenantId: string;
  apps: EntraApp[];
  /**
   * Resources (application ID URIs, such as `https://storage.azure.com`) that exist in the
   * tenant. When set, a scope for any other resource is refused with AADSTS500011.
   */
  resources?: string[];
}

/**
 * Configuration of {@link startEntra}.
 *
 * @example
 * ```ts
 * const config: EntraConfig = { tls: { cert, key }, tenants: [{ tenantId, apps: [app] }], accessTokenLifetimeSeconds: 5 };
 * ```
 */
export interface EntraConfig {
  tenants?: EntraTenant[];
  /** PEM certificate and key: Entra serves HTTPS (and `@azure/identity` refuses `http://`). */
  tls?: { cert: string; key: string };
  host?: string;
  port?: number;
  /** `expires_in` of access tokens. Defaults to 3599. */
  accessTokenLifetimeSeconds?: number;
  /** When set, responses carry `refresh_in`. */
  refreshInSeconds?: number;
  /** Extra CA certificates (PEM) trusted when fetching issuers' discovery documents and keys. */
  trustedCertificates?: string[];
  /** Clock skew allowed on assertion `nbf` / `exp`. Defaults to 300 seconds. */
  clockSkewSeconds?: number;
  /** How long issuers' discovery documents and keys are cached. Defaults to 300 seconds. */
  issuerCacheSeconds?: number;
}

/**
 * One request the Entra emulator answered, for tests to assert on.
 *
 * @example
 * ```ts
 * const refused = entra.requests.filter((record: EntraRequestRecord) => record.errorCodes?.includes(700213));
 * ```
 */
export interface EntraRequestRecord {
  method: string;
  path: string;
  /** The tenant segment of the path, when there is one. */
  tenant?: string;
  headers: IncomingHttpHeaders;
  /** The parsed form body (token requests); empty for other requests. */
  form: Record<string, string>;
  status: number;
  /** The OAuth `error` of a refusal. */
  error?: string;
  /** The AADSTS codes of a refusal. */
  errorCodes?: number[];
  at: Date;
}

/**
 * A running Entra ID emulator.
 *
 * @example
 * ```ts
 * const entra: EntraEmulator = await startEntra(config);
 * expect(entra.tokenRequestCount).toBe(1);
 * await entra.close();
 * ```
 */
export interface EntraEmulator {
  /** The base URL, `https://localhost:PORT` with TLS. */
  readonly url: string;
  /** Same as `url`: pass it as `authorityHost`. */
  readonly authorityHost: string;
  readonly port: number;
  /** Every request answered, oldest first. */
  readonly requests: EntraRequestRecord[];
  /** POSTs to a token endpoint, whatever the answer (faults included). */
  readonly tokenRequestCount: number;
  /** Faults queued for the next token requests. */
  readonly faults: FaultQueue;
  /** Queues `fault` for the next `count` token requests (default 1). */
  injectFault(fault: Fault, options?: { count?: number }): void;
  /** Registers an app in a tenant (creating the tenant if needed), or replaces one with its client id. */
  addApp(tenantId: string, app: EntraApp): void;
  /** `{url}/{tenantId}/oauth2/v2.0/token`. */
  tokenEndpoint(tenantId: string): string;
  /** The JWKS that verifies access tokens. */
  jwks(): { keys: JWK[] };
  /** Clears the request log, counters, faults and cached issuer keys. */
  reset(): void;
  close(): Promise<void>;
}

interface ResolvedApp {
  clientId: string;
  objectId: string;
  federatedCredentials: FederatedCredential[];
  certificates: RegisteredCertificate[];
  trustedSubjects: ResolvedTrustedSubject[];
  roles: string[];
}

interface ResolvedTenant {
  apps: Map<string, ResolvedApp>;
  resources?: Set<string>;
}

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ACCEPTED_TYPES = new Set(["JWT", "http://openid.net/specs/jwt/1.0"]);
const OIDC_SCOPES = new Set(["openid", "profile", "offline_access", "email"]);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MAX_FEDERATED_CREDENTIALS = 20;
const CLIENT_CLOSED = 499;

function resolveApp(app: EntraApp): ResolvedApp {
  const federatedCredentials = app.federatedCredentials ?? [];
  if (federatedCredentials.length > MAX_FEDERATED_CREDENTIALS) {
    throw new RangeError(
      `app ${app.clientId}: Entra allows at most 20 federated identity credentials`,
    );
  }
  return {
    clientId: app.clientId,
    objectId: app.objectId ?? newId(),
    federatedCredentials: federatedCredentials.map((credential) => ({
      ...credential,
      audiences: [...credential.audiences],
    })),
    certificates: (app.certificates ?? []).map(registerCertificate),
    trustedSubjects: (app.trustedCertificateSubjects ?? []).map(resolveTrustedSubject),
    roles: [...(app.roles ?? [])],
  };
}

interface ParsedForm {
  form: Record<string, string>;
  /** The first parameter sent more than once, which Entra refuses. */
  duplicated?: string;
}

function parseForm(request: IncomingMessage, body: string): ParsedForm {
  const contentType = String(request.headers["content-type"] ?? "").toLowerCase();
  // Entra reads only form bodies: anything else leaves every parameter missing.
  if (!contentType.startsWith("application/x-www-form-urlencoded")) return { form: {} };
  const form: Record<string, string> = {};
  let duplicated: string | undefined;
  for (const [name, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(form, name)) duplicated ??= name;
    else form[name] = value;
  }
  return duplicated === undefined ? { form } : { form, duplicated };
}

function wantsClientCapability(claims: string | undefined): boolean | "malformed" {
  if (claims === undefined || claims === "") return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(claims);
  } catch {
    return "malformed";
  }
  const values = (parsed as { access_token?: { xms_cc?: { values?: unknown } } })?.access_token
    ?.xms_cc?.values;
  return Array.isArray(values) && values.includes("cp1");
}

function isRefusal(answer: EntraRefusal | Record<string, unknown>): answer is EntraRefusal {
  return "code" in answer && "status" in answer;
}

function dateOf(seconds: unknown): Date {
  return new Date((typeof seconds === "number" ? seconds : 0) * 1000);
}

/**
 * Starts a Microsoft Entra ID emulator: the v2 token endpoint for the client-credentials grant
 * with federated and certificate client assertions, discovery documents and keys, fault
 * injection and a request log.
 *
 * @example
 * ```ts
 * const entra = await startEntra({
 *   tls: { cert, key },
 *   tenants: [{ tenantId, apps: [{ clientId, federatedCredentials: [{ issuer, subject, audiences: ["api://AzureADTokenExchange"] }] }] }],
 * });
 * const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, {
 *   authorityHost: entra.authorityHost,
 *   disableInstanceDiscovery: true,
 * });
 * ```
 */
export async function startEntra(config: EntraConfig = {}): Promise<EntraEmulator> {
  const tenants = new Map<string, ResolvedTenant>();
  const addApp = (tenantId: string, app: EntraApp): void => {
    let tenant = tenants.get(tenantId.toLowerCase());
    if (!tenant) {
      tenant = { apps: new Map() };
      tenants.set(tenantId.toLowerCase(), tenant);
    }
    tenant.apps.set(app.clientId.toLowerCase(), resolveApp(app));
  };
  for (const tenant of config.tenants ?? []) {
    tenants.set(tenant.tenantId.toLowerCase(), {
      apps: new Map(),
      ...(tenant.resources ? { resources: new Set(tenant.resources) } : {}),
    });
    for (const app of tenant.apps) addApp(tenant.tenantId, app);
  }

  const signingKey = await createSigningKey("RS256");
  const issuerKeys = createIssuerKeyCache({
    trustedCertificates: config.trustedCertificates ?? [],
    ttlMs: (config.issuerCacheSeconds ?? 300) * 1000,
  });
  const faults = new FaultQueue();
  const requests: EntraRequestRecord[] = [];
  let tokenRequestCount = 0;
  const lifetimeSeconds = config.accessTokenLifetimeSeconds ?? 3599;
  const clockSkewSeconds = config.clockSkewSeconds ?? 300;
  let baseUrl = "";

  const tokenEndpointCalled = (request: IncomingMessage, path: string): string =>
    `${config.tls ? "https" : "http"}://${request.headers.host ?? ""}${path}`;

  const grantToken = async (
    request: IncomingMessage,
    path: string,
    tenantSegment: string,
    { form, duplicated }: ParsedForm,
  ): Promise<EntraRefusal | Record<string, unknown>> => {
    if (!GUID.test(tenantSegment) && !DNS_NAME.test(tenantSegment)) {
      return refusals.malformedTenant(tenantSegment);
    }
    const tenant = tenants.get(tenantSegment.toLowerCase());
    if (!tenant) return refusals.tenantNotFound(tenantSegment);
    if (duplicated !== undefined) return refusals.duplicatedParameter(duplicated);
    if (!form.grant_type) return refusals.missingParameter("grant_type");
    if (form.grant_type !== "client_credentials") return refusals.unsupportedGrant(form.grant_type);
    if (!form.client_id) return refusals.missingParameter("client_id");
    if (!form.scope) return refusals.missingParameter("scope");
    const app = tenant.apps.get(form.client_id.toLowerCase());
    if (!app) return refusals.applicationNotFound(form.client_id, tenantSegment);

    const scopes = form.scope.split(" ").filter((scope) => scope && !OIDC_SCOPES.has(scope));
    if (scopes.length !== 1) return refusals.invalidScope(form.scope);
    const scope = scopes[0] as string;
    if (!scope.endsWith("/.default")) return refusals.scopeNotDefault(scope);
    const resource = scope.slice(0, -"/.default".length);
    if (tenant.resources && !tenant.resources.has(resource)) {
      return refusals.resourceNotFound(resource, tenantSegment);
    }
    const clientCapable = wantsClientCapability(form.claims);
    if (clientCapable === "malformed") return refusals.malformedRequest();

    if (!form.client_assertion) return refusals.missingCredential();
    if (!form.client_assertion_type) return refusals.missingParameter("client_assertion_type");
    if (form.client_assertion_type !== ASSERTION_TYPE) return refusals.missingCredential();

    const assertion = form.client_assertion;
    let header: ProtectedHeaderParameters;
    let payload: JWTPayload;
    try {
      if (assertion.split(".").length !== 3) throw new Error("not a compact JWS");
      header = decodeProtectedHeader(assertion);
      payload = decodeJwt(assertion);
    } catch {
      return refusals.malformedAssertion();
    }
    if (header.typ !== undefined && !ACCEPTED_TYPES.has(header.typ)) return refusals.wrongType();
    if (typeof payload.exp !== "number") return refusals.malformedAssertion();
    const now = nowSeconds();
    const validFrom = payload.nbf ?? payload.iat;
    if (
      payload.exp + clockSkewSeconds < now ||
      (typeof validFrom === "number" && validFrom - clockSkewSeconds > now)
    ) {
      return refusals.outsideTimeRange(new Date(), dateOf(validFrom), dateOf(payload.exp));
    }

    const isCertificateAssertion = header["x5t#S256"] !== undefined || header.x5t !== undefined;
    const refusal = isCertificateAssertion
      ? await checkCertificateAssertion({
          assertion,
          header,
          payload,
          clientId: app.clientId,
          certificates: app.certificates,
          trustedSubjects: app.trustedSubjects,
          tokenEndpoint: tokenEndpointCalled(request, path),
        })
      : await checkFederatedAssertion({
          assertion,
          header,
          payload,
          clientId: app.clientId,
          credentials: app.federatedCredentials,
          keys: issuerKeys,
        });
    if (refusal) return refusal;

    const accessToken = await mintAccessToken(signingKey, {
      tenantId: tenantSegment.toLowerCase(),
      clientId: app.clientId,
      objectId: app.objectId,
      resource,
      roles: app.roles,
      lifetimeSeconds,
      clientCapable,
    });
    return {
      token_type: "Bearer",
      expires_in: lifetimeSeconds,
      ext_expires_in: lifetimeSeconds,
      ...(config.refreshInSeconds !== undefined ? { refresh_in: config.refreshInSeconds } : {}),
      access_token: accessToken,
    };
  };

  const handleToken = async (
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    tenantSegment: string,
    record: EntraRequestRecord,
  ): Promise<void> => {
    tokenRequestCount += 1;
    const parsed = parseForm(request, await readBody(request));
    record.form = parsed.form;
    const fault = faults.take();
    if (fault && (await playFault(fault, response))) {
      // 499 (nginx's "client closed request"): the client went away before any answer.
      record.status =
        fault.kind === "drop" ? 0 : response.headersSent ? response.statusCode : CLIENT_CLOSED;
      return;
    }
    const correlationId = String(request.headers["client-request-id"] ?? newId());
    const answer = await grantToken(request, path, tenantSegment, parsed);
    const headers = {
      "cache-control": "no-store, no-cache",
      pragma: "no-cache",
      "client-request-id": correlationId,
      "x-ms-request-id": newId(),
    };
    if (isRefusal(answer)) {
      sendRefusal(response, record, answer, correlationId, headers);
      return;
    }
    record.status = 200;
    sendJson(response, 200, answer, headers);
  };

  const sendRefusal = (
    response: ServerResponse,
    record: EntraRequestRecord,
    refusal: EntraRefusal,
    correlationId?: string,
    headers?: Record<string, string>,
  ): void => {
    record.status = refusal.status;
    record.error = refusal.error;
    record.errorCodes = [refusal.code];
    sendJson(response, refusal.status, entraErrorBody(refusal, correlationId), headers);
  };

  const handleAdmin = async (
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
  ): Promise<void> => {
    if (path === "/_emulator/requests" && request.method === "GET") {
      sendJson(response, 200, { tokenRequestCount, requests });
      return;
    }
    if (path === "/_emulator/reset" && request.method === "POST") {
      emulator.reset();
      sendJson(response, 200, { reset: true });
      return;
    }
    if (path === "/_emulator/faults" && request.method === "POST") {
      try {
        const { count, ...fault } = JSON.parse(await readBody(request)) as Fault & {
          count?: number;
        };
        faults.push(fault, count ?? 1);
      } catch (error) {
        sendJson(response, 400, { error: "bad_fault", message: String(error) });
        return;
      }
      sendJson(response, 200, { queued: faults.queued });
      return;
    }
    sendJson(response, 404, { error: "not_found" });
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://emulator");
    const path = url.pathname;
    const segments = path.split("/").filter(Boolean);
    const record: EntraRequestRecord = {
      method: request.method ?? "GET",
      path,
      headers: { ...request.headers },
      form: {},
      status: 0,
      at: new Date(),
    };
    if (segments[0] === "_emulator") {
      await handleAdmin(request, response, path);
      return;
    }
    requests.push(record);
    const tenant = segments[0];
    if (tenant !== undefined) record.tenant = tenant;
    const rest = segments.slice(1).join("/");

    if (tenant && rest === "oauth2/v2.0/token") {
      if (request.method !== "POST") {
        sendRefusal(response, record, refusals.methodNotAllowed(request.method ?? "GET"));
        return;
      }
      await handleToken(request, response, path, tenant, record);
      return;
    }
    if (request.method !== "GET" || !tenant) {
      record.status = 404;
      sendJson(response, 404, { error: "not_found" });
      return;
    }
    if (tenant === "common" && rest === "discovery/instance") {
      const authorize = url.searchParams.get("authorization_endpoint");
      const named = authorize
        ? new URL(authorize).pathname.split("/").filter(Boolean)[0]
        : undefined;
      record.status = 200;
      sendJson(response, 200, instanceDiscovery(baseUrl, named ?? "common"));
      return;
    }
    if (rest === "discovery/v2.0/keys" || rest === "discovery/keys") {
      record.status = 200;
      sendJson(response, 200, jwks([signingKey]));
      return;
    }
    const known =
      tenants.has(tenant.toLowerCase()) || tenant === "common" || tenant === "organizations";
    if (
      rest === "v2.0/.well-known/openid-configuration" ||
      rest === ".well-known/openid-configuration"
    ) {
      if (!known) {
        sendRefusal(
          response,
          record,
          GUID.test(tenant) || DNS_NAME.test(tenant)
            ? refusals.tenantNotFound(tenant)
            : refusals.malformedTenant(tenant),
        );
        return;
      }
      const document = rest.startsWith("v2.0")
        ? openIdConfigurationV2(baseUrl, tenant)
        : openIdConfigurationV1(baseUrl, tenant);
      record.status = 200;
      sendJson(response, 200, document);
      return;
    }
    record.status = 404;
    sendJson(response, 404, { error: "not_found" });
  };

  const server = await listen(handler, { host: config.host, port: config.port, tls: config.tls });
  baseUrl = server.url;

  const emulator: EntraEmulator = {
    url: server.url,
    authorityHost: server.url,
    port: server.port,
    requests,
    get tokenRequestCount() {
      return tokenRequestCount;
    },
    faults,
    injectFault: (fault, options = {}) => faults.push(fault, options.count ?? 1),
    addApp,
    tokenEndpoint: (tenantId) => `${server.url}/${tenantId}/oauth2/v2.0/token`,
    jwks: () => jwks([signingKey]),
    reset() {
      requests.length = 0;
      tokenRequestCount = 0;
      faults.clear();
      issuerKeys.clear();
    },
    close: () => server.close(),
  };
  return emulator;
}
