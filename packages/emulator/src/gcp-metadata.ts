import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { FaultQueue } from "./faults.js";
import { listen } from "./http.js";
import { type OidcIssuer, startIssuer } from "./issuer.js";

/**
 * A service account attached to the emulated instance.
 *
 * @example
 * ```ts
 * const account: GcpServiceAccount = { email: "billing@acme-prod.iam.gserviceaccount.com", uniqueId: "104729551318874962951" };
 * ```
 */
export interface GcpServiceAccount {
  /** The account's email, also a name it can be asked for by (`/service-accounts/{email}/identity`). */
  email: string;
  /** The account's unique id (21 digits): the identity token's `sub` and `azp`. */
  uniqueId: string;
}

/**
 * The instance and project that `format=full` identity tokens describe.
 *
 * @example
 * ```ts
 * const instance: GcpInstance = { projectId: "acme-prod", projectNumber: "123456789012", zone: "europe-west1-b", instanceId: "4415843216512907013", instanceName: "worker-1" };
 * ```
 */
export interface GcpInstance {
  projectId: string;
  projectNumber: string;
  zone: string;
  instanceId: string;
  instanceName: string;
  /** Seconds since the epoch. */
  instanceCreationTimestamp?: number;
}

/**
 * An answer the metadata server plays instead of the identity token for the next requests that
 * pass its header checks: a status, body and headers of the test's choosing (a redirect, an
 * error page, an oversized body), or a dropped connection.
 *
 * @example
 * ```ts
 * metadata.faults.push({ status: 503, body: "busy" }, 2);
 * metadata.faults.push({ status: 302, headers: { location: "http://127.0.0.1:1/" } });
 * metadata.faults.push({ drop: true });
 * ```
 */
export interface MetadataFault {
  /** Default 200. */
  status?: number;
  /** Default empty. */
  body?: string;
  headers?: Record<string, string>;
  /** Send no `Metadata-Flavor: Google` header with the answer (something else answers). */
  withoutFlavor?: boolean;
  /** Destroy the connection without an answer. */
  drop?: boolean;
}

/**
 * Configuration of {@link startGcpMetadata}.
 *
 * @example
 * ```ts
 * const config: GcpMetadataConfig = { serviceAccounts: [{ email, uniqueId }], tokenLifetimeSeconds: 600 };
 * ```
 */
export interface GcpMetadataConfig {
  /**
   * The instance's service accounts; the first one is `default`. Default: one account,
   * `workload@emulated-project.iam.gserviceaccount.com` with unique id `104729551318874962951`.
   */
  serviceAccounts?: GcpServiceAccount[];
  instance?: Partial<GcpInstance>;
  /**
   * The issuer that signs identity tokens. Default: one started with the server (and closed with
   * it). Google signs with `https://accounts.google.com`; the emulator's issuer is on loopback so
   * the emulated Entra can fetch its keys.
   */
  issuer?: OidcIssuer;
  /** Identity tokens' lifetime. Default 3600, as Google's. */
  tokenLifetimeSeconds?: number;
  host?: string;
  port?: number;
}

/**
 * One request the metadata server answered.
 *
 * @example
 * ```ts
 * const [first]: readonly GcpMetadataRequestRecord[] = metadata.requests;
 * expect(first?.query.audience).toBe("api://AzureADTokenExchange");
 * ```
 */
export interface GcpMetadataRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  status: number;
  at: Date;
}

/**
 * A running GCP metadata server emulator.
 *
 * @example
 * ```ts
 * const metadata: GcpMetadataServer = await startGcpMetadata();
 * process.env.GCE_METADATA_HOST = metadata.host;
 * ```
 */
export interface GcpMetadataServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `127.0.0.1:PORT`: the value for `GCE_METADATA_HOST`. */
  readonly host: string;
  readonly port: number;
  /** The `iss` of its identity tokens (the federated credential's issuer). */
  readonly issuer: string;
  readonly serviceAccounts: readonly GcpServiceAccount[];
  /** Every request, oldest first (header refusals included). */
  readonly requests: readonly GcpMetadataRequestRecord[];
  /** Identity tokens issued. */
  readonly identityTokenCount: number;
  /** Answers played instead of the next identity tokens. */
  readonly faults: FaultQueue<MetadataFault>;
  /** Clears the request log, the counter and the faults. */
  reset(): void;
  close(): Promise<void>;
}

const IDENTITY_PATH = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/identity\/?$/;

const DEFAULT_ACCOUNT: GcpServiceAccount = {
  email: "workload@emulated-project.iam.gserviceaccount.com",
  uniqueId: "104729551318874962951",
};

/**
 * Starts an emulated GCP metadata server (plain HTTP on loopback, as the real one speaks on
 * `169.254.169.254`) with the identity endpoint
 * `GET /computeMetadata/v1/instance/service-accounts/{default|email}/identity?audience=...&format=standard|full&licenses=TRUE|FALSE`.
 * As the real server, it refuses requests without `Metadata-Flavor: Google` (403) and requests
 * with `X-Forwarded-For` (403: they came through a proxy), needs a non-empty `audience` (400),
 * answers every request with `Metadata-Flavor: Google`, and sends the identity token as text.
 * `format=full` adds `email`, `email_verified` and `google.compute_engine`.
 *
 * @example
 * ```ts
 * const metadata = await startGcpMetadata();
 * const entra = await startEntra({ tenants: [{ tenantId, apps: [{ clientId, federatedCredentials: [
 *   { issuer: metadata.issuer, subject: metadata.serviceAccounts[0].uniqueId, audiences: ["api://AzureADTokenExchange"] },
 * ] }] }] });
 * ```
 */
export async function startGcpMetadata(config: GcpMetadataConfig = {}): Promise<GcpMetadataServer> {
  const accounts = [...(config.serviceAccounts ?? [DEFAULT_ACCOUNT])];
  if (accounts.length === 0) throw new RangeError("serviceAccounts must name at least one account");
  const instance: GcpInstance = {
    projectId: "emulated-project",
    projectNumber: "123456789012",
    zone: "europe-west1-b",
    instanceId: "4415843216512907013",
    instanceName: "workload-1",
    ...config.instance,
  };
  const ownIssuer = config.issuer === undefined;
  const issuer = config.issuer ?? (await startIssuer());
  const lifetimeSeconds = config.tokenLifetimeSeconds ?? 3600;
  const requests: GcpMetadataRequestRecord[] = [];
  const faults = new FaultQueue<MetadataFault>();
  let identityTokenCount = 0;

  const answer = (
    response: ServerResponse,
    record: GcpMetadataRequestRecord,
    status: number,
    body: string,
    headers: Record<string, string> = {},
    flavor = true,
  ): void => {
    record.status = status;
    response.writeHead(status, {
      "content-type": "application/text",
      "content-length": String(Buffer.byteLength(body)),
      ...(flavor ? { "metadata-flavor": "Google" } : {}),
      ...headers,
    });
    response.end(body);
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://metadata.google.internal");
    const record: GcpMetadataRequestRecord = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...request.headers },
      status: 0,
      at: new Date(),
    };
    requests.push(record);
    if (request.headers["x-forwarded-for"] !== undefined) {
      answer(response, record, 403, "Request had an X-Forwarded-For header and was refused.");
      return;
    }
    if (request.headers["metadata-flavor"] !== "Google") {
      answer(response, record, 403, "Missing required header: Metadata-Flavor: Google");
      return;
    }
    const match = IDENTITY_PATH.exec(url.pathname);
    if (!match) {
      answer(response, record, 404, "Not Found");
      return;
    }
    if (request.method !== "GET") {
      answer(response, record, 405, "Method Not Allowed");
      return;
    }
    const name = decodeURIComponent(match[1] as string);
    const account = name === "default" ? accounts[0] : accounts.find((a) => a.email === name);
    if (account === undefined) {
      answer(response, record, 404, `Service account ${name} is not attached to this instance.`);
      return;
    }
    const audience = url.searchParams.get("audience") ?? "";
    if (audience === "") {
      answer(response, record, 400, "non-empty audience parameter required");
      return;
    }
    const format = url.searchParams.get("format") ?? "standard";
    if (format !== "standard" && format !== "full") {
      answer(response, record, 400, `invalid format ${format}: standard or full`);
      return;
    }
    const fault = faults.take();
    if (fault?.drop) {
      record.status = 0;
      response.socket?.destroy();
      return;
    }
    if (fault) {
      answer(
        response,
        record,
        fault.status ?? 200,
        fault.body ?? "",
        fault.headers,
        !fault.withoutFlavor,
      );
      return;
    }
    const full = format === "full";
    const licenses = full && url.searchParams.get("licenses")?.toUpperCase() === "TRUE";
    const token = await issuer.mint({
      subject: account.uniqueId,
      audience,
      lifetimeSeconds,
      claims: {
        azp: account.uniqueId,
        ...(full
          ? {
              email: account.email,
              email_verified: true,
              google: {
                compute_engine: {
                  instance_creation_timestamp:
                    instance.instanceCreationTimestamp ?? Math.floor(Date.now() / 1000) - 86_400,
                  instance_id: instance.instanceId,
                  instance_name: instance.instanceName,
                  project_id: instance.projectId,
                  project_number: Number(instance.projectNumber),
                  zone: instance.zone,
                  ...(licenses ? { license_id: [] } : {}),
                },
              },
            }
          : {}),
      },
    });
    identityTokenCount += 1;
    answer(response, record, 200, token);
  };

  const server = await listen(handler, { host: config.host, port: config.port });
  return {
    url: server.url,
    host: new URL(server.url).host,
    port: server.port,
    issuer: issuer.issuer,
    serviceAccounts: accounts,
    requests,
    get identityTokenCount() {
      return identityTokenCount;
    },
    faults,
    reset() {
      requests.length = 0;
      identityTokenCount = 0;
      faults.clear();
    },
    async close() {
      await server.close();
      if (ownIssuer) await issuer.close();
    },
  };
}
