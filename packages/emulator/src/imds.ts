import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { openIdConfigurationV2 } from "./entra-discovery.js";
import { FaultQueue } from "./faults.js";
import { listen, newId, sendJson } from "./http.js";
import { createSigningKey, jwks, nowSeconds } from "./keys.js";

/**
 * A managed identity the emulated host has: system-assigned, or user-assigned (selected by its
 * client id, resource id or object id).
 *
 * @example
 * ```ts
 * const identity: ManagedIdentity = { clientId, objectId, resourceId: "/subscriptions/.../userAssignedIdentities/billing", userAssigned: true };
 * ```
 */
export interface ManagedIdentity {
  /** The identity's client (application) id. */
  clientId: string;
  /** The identity's object (principal) id: the token's `oid` and `sub`. */
  objectId: string;
  /** The ARM resource id (user-assigned identities). */
  resourceId?: string;
  /** `true` for a user-assigned identity; at most one identity is system-assigned. */
  userAssigned?: boolean;
}

/**
 * An answer played instead of a token for the next requests that pass the header checks: a
 * status, body and headers of the test's choosing, or a dropped connection.
 *
 * @example
 * ```ts
 * imds.faults.push({ status: 503, body: "{}", headers: { "retry-after": "1" } }, 2);
 * ```
 */
export interface IdentityEndpointFault {
  /** Default 200. */
  status?: number;
  /** Default empty. */
  body?: string;
  headers?: Record<string, string>;
  /** Destroy the connection without an answer. */
  drop?: boolean;
}

/**
 * Configuration of {@link startImds}.
 *
 * @example
 * ```ts
 * const config: ImdsConfig = { tenantId, identities: [{ clientId, objectId }], tokenLifetimeSeconds: 3600 };
 * ```
 */
export interface ImdsConfig {
  /** The identities' home tenant. Default a fixed GUID. */
  tenantId?: string;
  /** Default: one system-assigned identity with fresh ids. */
  identities?: ManagedIdentity[];
  /** Default 86 399 (the managed identity token of `api://AzureADTokenExchange` lives a day). */
  tokenLifetimeSeconds?: number;
  /** App Service's `IDENTITY_HEADER` secret. Default random. */
  identityHeader?: string;
  /**
   * Resources tokens may be asked for. Default the three token exchange audiences
   * (`api://AzureADTokenExchange`, `...USGov`, `...China`).
   */
  resources?: string[];
  host?: string;
  port?: number;
}

/**
 * One request an identity endpoint answered.
 *
 * @example
 * ```ts
 * const [first]: readonly ImdsRequestRecord[] = imds.requests;
 * expect(first?.query.resource).toBe("api://AzureADTokenExchange");
 * ```
 */
export interface ImdsRequestRecord {
  /** `imds` (`/metadata/identity/oauth2/token`) or `app-service` (`/msi/token`). */
  endpoint: "imds" | "app-service" | "other";
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  status: number;
  at: Date;
}

/**
 * A running managed identity emulator: Azure IMDS, App Service's identity endpoint, and the
 * identities' home tenant authority (discovery and keys), which verifies their tokens.
 *
 * @example
 * ```ts
 * const imds: ImdsServer = await startImds();
 * process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = imds.url;
 * ```
 */
export interface ImdsServer {
  /** `http://127.0.0.1:PORT`: the IMDS host (`AZURE_POD_IDENTITY_AUTHORITY_HOST`). */
  readonly url: string;
  readonly port: number;
  /** `{url}/metadata/identity/oauth2/token`. */
  readonly imdsEndpoint: string;
  /** `{url}/msi/token`: App Service's `IDENTITY_ENDPOINT`. */
  readonly identityEndpoint: string;
  /** App Service's `IDENTITY_HEADER`. */
  readonly identityHeader: string;
  /** The home tenant's authority (`http://127.0.0.1:PORT`), which stands in for `login.microsoftonline.com`. */
  readonly authorityHost: string;
  readonly tenantId: string;
  /** `{authorityHost}/{tenantId}/v2.0`: the tokens' `iss` (the federated credential's issuer). */
  readonly issuer: string;
  readonly identities: readonly ManagedIdentity[];
  /** Every request to the identity endpoints, oldest first (refusals included). */
  readonly requests: readonly ImdsRequestRecord[];
  /** Tokens issued. */
  readonly tokenCount: number;
  /** Answers played instead of the next tokens. */
  readonly faults: FaultQueue<IdentityEndpointFault>;
  /** Clears the request log, the counter and the faults. */
  reset(): void;
  close(): Promise<void>;
}

const IMDS_PATH = "/metadata/identity/oauth2/token";
const APP_SERVICE_PATH = "/msi/token";
const IMDS_API_VERSIONS = new Set(["2018-02-01", "2019-08-01"]);
const APP_SERVICE_API_VERSION = "2019-08-01";
const EXCHANGE_AUDIENCES = [
  "api://AzureADTokenExchange",
  "api://AzureADTokenExchangeUSGov",
  "api://AzureADTokenExchangeChina",
];

interface Refusal {
  status: number;
  error: string;
  description: string;
}

const refused = (status: number, error: string, description: string): Refusal => ({
  status,
  error,
  description,
});

/**
 * Starts an emulated managed identity host on loopback, speaking plain HTTP as the real ones do:
 *
 * - IMDS: `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...` with
 *   `Metadata: true` (else 400), optionally `client_id`, `msi_res_id` or `object_id` (one of
 *   them); requests with `X-Forwarded-For` are refused, as IMDS refuses proxied requests;
 * - App Service / Functions / Container Apps: `GET /msi/token?api-version=2019-08-01&resource=...`
 *   with `X-IDENTITY-HEADER` (else 401), optionally `client_id`, `mi_res_id` or `principal_id`
 *   (`object_id` as its alias).
 *
 * Tokens are v2 app tokens of the identity's home tenant: `iss` `{authorityHost}/{tenant}/v2.0`,
 * `sub` and `oid` the identity's object id, `aud` the resource; the home tenant's discovery
 * document and keys are served at `authorityHost`, so the emulated Entra verifies them as it
 * verifies `https://login.microsoftonline.com/{tenant}/v2.0` tokens.
 *
 * @example
 * ```ts
 * const imds = await startImds();
 * const [identity] = imds.identities;
 * const entra = await startEntra({ tenants: [{ tenantId, apps: [{ clientId, federatedCredentials: [
 *   { issuer: imds.issuer, subject: identity.objectId, audiences: ["api://AzureADTokenExchange"] },
 * ] }] }] });
 * ```
 */
export async function startImds(config: ImdsConfig = {}): Promise<ImdsServer> {
  const tenantId = config.tenantId ?? "7c1f0d2e-0000-4000-8000-00000000a11d";
  const identities = (config.identities ?? [{ clientId: newId(), objectId: newId() }]).map(
    (identity) => ({ ...identity }),
  );
  if (identities.filter((identity) => !identity.userAssigned).length > 1) {
    throw new RangeError("at most one identity can be system-assigned");
  }
  const identityHeader = config.identityHeader ?? randomBytes(24).toString("hex");
  const resources = new Set(config.resources ?? EXCHANGE_AUDIENCES);
  const lifetimeSeconds = config.tokenLifetimeSeconds ?? 86_399;
  const signingKey = await createSigningKey("RS256");
  const requests: ImdsRequestRecord[] = [];
  const faults = new FaultQueue<IdentityEndpointFault>();
  let tokenCount = 0;

  const authority = await listen(
    (request, response) => {
      const path = new URL(request.url ?? "/", "http://authority").pathname;
      if (
        request.method === "GET" &&
        path === `/${tenantId}/v2.0/.well-known/openid-configuration`
      ) {
        sendJson(response, 200, openIdConfigurationV2(authority.url, tenantId));
        return;
      }
      if (request.method === "GET" && path === `/${tenantId}/discovery/v2.0/keys`) {
        sendJson(response, 200, jwks([signingKey]));
        return;
      }
      sendJson(response, 404, { error: "not_found" });
    },
    { host: config.host },
  );
  const issuer = `${authority.url}/${tenantId}/v2.0`;

  /** The identity a request selects, or why none. */
  const select = (
    selectors: Array<[name: string, value: string | null, field: keyof ManagedIdentity]>,
  ): ManagedIdentity | Refusal => {
    const given = selectors.filter(([, value]) => value !== null);
    if (given.length > 1) {
      return refused(
        400,
        "invalid_request",
        `Only one of ${selectors.map(([name]) => name).join(", ")} may be specified.`,
      );
    }
    const [selector] = given;
    if (selector !== undefined) {
      const [, value, field] = selector;
      const found = identities.find(
        (identity) => String(identity[field] ?? "").toLowerCase() === value?.toLowerCase(),
      );
      return found ?? refused(400, "invalid_request", "Identity not found");
    }
    const system = identities.find((identity) => !identity.userAssigned);
    if (system) return system;
    if (identities.length === 1) return identities[0] as ManagedIdentity;
    return refused(
      400,
      "invalid_request",
      identities.length === 0
        ? "Identity not found"
        : "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
    );
  };

  const mint = async (identity: ManagedIdentity, resource: string) => {
    const now = nowSeconds();
    const token = await signingKey.sign({
      aud: resource,
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + lifetimeSeconds,
      aio: randomBytes(36).toString("base64url"),
      azp: identity.clientId,
      azpacr: "2",
      idtyp: "app",
      oid: identity.objectId,
      rh: `0.${randomBytes(30).toString("base64url")}.`,
      sub: identity.objectId,
      tid: tenantId,
      uti: randomBytes(16).toString("base64url"),
      ver: "2.0",
      ...(identity.resourceId ? { xms_mirid: identity.resourceId } : {}),
    });
    tokenCount += 1;
    return { token, now };
  };

  const refuse = (response: ServerResponse, record: ImdsRequestRecord, refusal: Refusal): void => {
    record.status = refusal.status;
    sendJson(response, refusal.status, {
      error: refusal.error,
      error_description: refusal.description,
    });
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://169.254.169.254");
    const endpoint =
      url.pathname === IMDS_PATH
        ? "imds"
        : url.pathname.toLowerCase() === APP_SERVICE_PATH
          ? "app-service"
          : "other";
    const record: ImdsRequestRecord = {
      endpoint,
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...request.headers },
      status: 0,
      at: new Date(),
    };
    requests.push(record);
    const query = url.searchParams;
    if (endpoint === "other") {
      refuse(response, record, refused(404, "not_found", "No such endpoint."));
      return;
    }
    if (request.method !== "GET") {
      refuse(response, record, refused(405, "invalid_request", "Only GET is allowed."));
      return;
    }
    if (endpoint === "imds") {
      if (request.headers["x-forwarded-for"] !== undefined) {
        refuse(
          response,
          record,
          refused(400, "invalid_request", "Requests with X-Forwarded-For are not allowed."),
        );
        return;
      }
      if (request.headers.metadata !== "true") {
        refuse(
          response,
          record,
          refused(400, "invalid_request", "Required metadata header not specified"),
        );
        return;
      }
      const version = query.get("api-version");
      if (version === null || !IMDS_API_VERSIONS.has(version)) {
        refuse(
          response,
          record,
          refused(
            400,
            "invalid_request",
            version === null
              ? "Required queryparameter api-version is missing"
              : `Invalid api-version ${version}`,
          ),
        );
        return;
      }
    } else {
      if (request.headers["x-identity-header"] !== identityHeader) {
        refuse(
          response,
          record,
          refused(401, "unauthorized", "The X-IDENTITY-HEADER header is missing or not valid."),
        );
        return;
      }
      if (query.get("api-version") !== APP_SERVICE_API_VERSION) {
        refuse(
          response,
          record,
          refused(400, "invalid_request", `api-version must be ${APP_SERVICE_API_VERSION}.`),
        );
        return;
      }
    }
    const resource = query.get("resource");
    if (resource === null || resource === "") {
      refuse(
        response,
        record,
        refused(400, "invalid_request", "Required audience parameter not specified"),
      );
      return;
    }
    const selected =
      endpoint === "imds"
        ? select([
            ["client_id", query.get("client_id"), "clientId"],
            ["msi_res_id", query.get("msi_res_id"), "resourceId"],
            ["object_id", query.get("object_id"), "objectId"],
          ])
        : select([
            ["client_id", query.get("client_id"), "clientId"],
            ["mi_res_id", query.get("mi_res_id"), "resourceId"],
            ["principal_id", query.get("principal_id") ?? query.get("object_id"), "objectId"],
          ]);
    if ("status" in selected) {
      refuse(response, record, selected);
      return;
    }
    if (!resources.has(resource)) {
      refuse(
        response,
        record,
        refused(
          400,
          "invalid_resource",
          `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantId}.`,
        ),
      );
      return;
    }
    const fault = faults.take();
    if (fault?.drop) {
      response.socket?.destroy();
      return;
    }
    if (fault) {
      record.status = fault.status ?? 200;
      const body = fault.body ?? "";
      response.writeHead(record.status, {
        "content-length": String(Buffer.byteLength(body)),
        ...fault.headers,
      });
      response.end(body);
      return;
    }
    const { token, now } = await mint(selected, resource);
    record.status = 200;
    const expiresOn = String(now + lifetimeSeconds);
    sendJson(
      response,
      200,
      endpoint === "imds"
        ? {
            access_token: token,
            client_id: selected.clientId,
            expires_in: String(lifetimeSeconds),
            expires_on: expiresOn,
            ext_expires_in: String(lifetimeSeconds),
            not_before: String(now),
            resource,
            token_type: "Bearer",
          }
        : {
            access_token: token,
            expires_on: expiresOn,
            resource,
            token_type: "Bearer",
            client_id: selected.clientId,
          },
    );
  };

  const server = await listen(handler, { host: config.host, port: config.port });
  return {
    url: server.url,
    port: server.port,
    imdsEndpoint: `${server.url}${IMDS_PATH}`,
    identityEndpoint: `${server.url}${APP_SERVICE_PATH}`,
    identityHeader,
    authorityHost: authority.url,
    tenantId,
    issuer,
    identities,
    requests,
    get tokenCount() {
      return tokenCount;
    },
    faults,
    reset() {
      requests.length = 0;
      tokenCount = 0;
      faults.clear();
    },
    async close() {
      await Promise.all([server.close(), authority.close()]);
    },
  };
}
