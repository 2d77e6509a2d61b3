import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FaultQueue } from "./faults.js";
import { listen, readBody, sendJson } from "./http.js";
import { createSigningKey, issuerDiscovery, jwks } from "./keys.js";
import {
  badRequest,
  conflict,
  failed,
  forbidden,
  type KubernetesStatus,
  methodNotAllowed,
  podNotFound,
  resourceNotFound,
  serviceAccountNotFound,
  tokenRequestInvalid,
  unauthorized,
  unsupportedMediaType,
} from "./kubernetes-status.js";
import { createTlsAuthority, type TlsAuthority } from "./tls.js";

/**
 * A service account the emulated cluster knows.
 *
 * @example
 * ```ts
 * const account: KubernetesServiceAccount = { namespace: "prod", name: "billing" };
 * ```
 */
export interface KubernetesServiceAccount {
  namespace: string;
  name: string;
  /** The `kubernetes.io.serviceaccount.uid` claim. Defaults to a fresh UUID. */
  uid?: string;
}

/**
 * A pod of the emulated cluster, for tokens bound to it (`spec.boundObjectRef` of kind `Pod`).
 *
 * @example
 * ```ts
 * const pod: KubernetesPod = { namespace: "prod", name: "billing-7d9f", serviceAccount: "billing" };
 * ```
 */
export interface KubernetesPod {
  namespace: string;
  name: string;
  /** The pod's `spec.serviceAccountName`: only tokens of this service account bind to it. */
  serviceAccount: string;
  /** Defaults to a fresh UUID. */
  uid?: string;
}

/**
 * A failure the emulated API server plays for the next TokenRequests, as an overloaded or
 * failing API server answers: a `Status` with this code (429 `TooManyRequests`, 500, 503...).
 *
 * @example
 * ```ts
 * kubernetes.faults.push({ status: 429, retryAfter: 1 }, 2);
 * ```
 */
export interface KubernetesFault {
  status: number;
  /** The Status `reason`. Defaults to `TooManyRequests` for 429, else `InternalError`. */
  reason?: string;
  /** The Status `message`. */
  message?: string;
  /** `Retry-After`, in seconds. */
  retryAfter?: number;
}

/**
 * Which service accounts a caller may create tokens for (`create` on `serviceaccounts/token`).
 *
 * @example
 * ```ts
 * const allow: KubernetesAllowList = [{ namespace: "prod", name: "billing" }];
 * ```
 */
export type KubernetesAllowList = readonly { namespace: string; name?: string }[] | "*";

/**
 * A client of the API server: its bearer token, the user it authenticates as, and its RBAC stand-in.
 *
 * @example
 * ```ts
 * const caller: KubernetesCaller = { token: "minter-token", user: "system:serviceaccount:ops:minter", allow: "*" };
 * ```
 */
export interface KubernetesCaller {
  token: string;
  /** The user name in RBAC refusals, e.g. `system:serviceaccount:fedcred:minter` or `alice`. */
  user: string;
  /** `"*"`, or entries of namespace (and optionally name) the caller may create tokens for. */
  allow: KubernetesAllowList;
}

/**
 * Options of {@link startKubernetes}.
 *
 * @example
 * ```ts
 * const options: KubernetesOptions = {
 *   serviceAccounts: [{ namespace: "prod", name: "billing" }],
 *   callers: [{ token: "minter-token", user: "minter", allow: "*" }],
 *   maxExpirationSeconds: 3600,
 * };
 * ```
 */
export interface KubernetesOptions {
  /** The service-account issuer (`iss`). Defaults to the server's own URL, as on most clusters. */
  issuer?: string;
  /** The `jwks_uri` in discovery. Defaults to `{issuer}/openid/v1/jwks`, as the API server does. */
  jwksUri?: string;
  /** Audiences granted when a TokenRequest names none (`--api-audiences`). Defaults to `[issuer]`. */
  apiAudiences?: readonly string[];
  serviceAccounts?: readonly KubernetesServiceAccount[];
  /** Pods tokens may be bound to. */
  pods?: readonly KubernetesPod[];
  callers?: readonly KubernetesCaller[];
  /** `--service-account-max-token-expiration`: longer requests are shortened to this, with a warning. */
  maxExpirationSeconds?: number;
  /** A CA and server certificate to serve with, so a lab can share one CA. Generated when absent. */
  tlsAuthority?: TlsAuthority;
  host?: string;
  port?: number;
}

/**
 * One request the emulated API server answered.
 *
 * @example
 * ```ts
 * const denied = kubernetes.requests.filter((record: KubernetesRequestRecord) => record.status === 403);
 * ```
 */
export interface KubernetesRequestRecord {
  method: string;
  path: string;
  /** The authenticated user, if any. */
  user?: string;
  /** The parsed JSON body, the raw text if it was not JSON, or `undefined` when empty. */
  body: unknown;
  status: number;
}

/**
 * Options of {@link KubernetesApi.kubeconfig}.
 *
 * @example
 * ```ts
 * const options: KubeconfigOptions = { token: "minter-token", namespace: "prod" };
 * await kubernetes.writeKubeconfig("/tmp/kubeconfig", options);
 * ```
 */
export interface KubeconfigOptions {
  /** The bearer token the kubeconfig's user presents. */
  token: string;
  /** The context's default namespace. */
  namespace?: string;
  /** Name of the cluster, user and context entries. Defaults to `fedcred-emulator`. */
  name?: string;
}

/**
 * A kubeconfig document (the subset `@kubernetes/client-node` and kubectl read).
 *
 * @example
 * ```ts
 * const config: Kubeconfig = kubernetes.kubeconfig({ token: "minter-token" });
 * new KubeConfig().loadFromString(JSON.stringify(config));
 * ```
 */
export interface Kubeconfig {
  apiVersion: "v1";
  kind: "Config";
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { token: string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  "current-context": string;
  preferences: Record<string, never>;
}

/**
 * What {@link KubernetesApi.mintServiceAccountToken} takes.
 *
 * @example
 * ```ts
 * const options: MintServiceAccountTokenOptions = { namespace: "prod", name: "billing", audiences: ["api://AzureADTokenExchange"] };
 * const { token } = await kubernetes.mintServiceAccountToken(options);
 * ```
 */
export interface MintServiceAccountTokenOptions {
  namespace: string;
  name: string;
  /** Defaults to the API audiences. */
  audiences?: readonly string[];
  /** Defaults to 3600, shortened to `maxExpirationSeconds` when set. */
  expirationSeconds?: number;
}

/**
 * A running emulated Kubernetes API server.
 *
 * @example
 * ```ts
 * const kubernetes: KubernetesApi = await startKubernetes({ serviceAccounts, callers });
 * kubernetes.tokenRequestCount;
 * await kubernetes.close();
 * ```
 */
export interface KubernetesApi {
  /** `https://localhost:PORT`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The service-account issuer (`iss` of every token). */
  readonly issuer: string;
  /** PEM of the CA the server certificate chains to. */
  readonly caCertificate: string;
  /** Every request answered, in order. */
  readonly requests: readonly KubernetesRequestRecord[];
  /** Number of TokenRequest POSTs received, whatever the answer. */
  readonly tokenRequestCount: number;
  /** Failures to play, in order, for the next authenticated TokenRequests. */
  readonly faults: FaultQueue<KubernetesFault>;
  /** The issuer's discovery document, as served at `/.well-known/openid-configuration`. */
  readonly openidConfiguration: Record<string, unknown>;
  /** The issuer's JWKS, as served at `/openid/v1/jwks`. */
  jwks(): { keys: Record<string, unknown>[] };
  /** A kubeconfig pointing at this server, trusting its CA, authenticating with `token`. */
  kubeconfig(options: KubeconfigOptions): Kubeconfig;
  /** Writes {@link KubernetesApi.kubeconfig} to `path` as JSON (which is valid YAML). */
  writeKubeconfig(path: string, options: KubeconfigOptions): Promise<void>;
  /** Adds (or replaces) a service account; returns it with its uid. */
  addServiceAccount(serviceAccount: KubernetesServiceAccount): Required<KubernetesServiceAccount>;
  /** Adds (or replaces) a pod; returns it with its uid. */
  addPod(pod: KubernetesPod): Required<KubernetesPod>;
  /** Adds (or replaces, by token) a caller. */
  addCaller(caller: KubernetesCaller): void;
  /**
   * Mints a token as TokenRequest would, without authentication, authorization or the 10-minute
   * minimum (a kubelet-side path for projected volumes and short-lived test tokens).
   */
  mintServiceAccountToken(
    options: MintServiceAccountTokenOptions,
  ): Promise<{ token: string; expiresAt: Date }>;
  close(): Promise<void>;
}

const TOKEN_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/;
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;
const DEFAULT_EXPIRATION_SECONDS = 3600;

/** RFC 3339 at second precision, as `metav1.Time` serialises. */
function rfc3339(milliseconds: number): string {
  return new Date(milliseconds).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function bearerToken(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

function mayCreateToken(caller: KubernetesCaller, namespace: string, name: string): boolean {
  if (caller.allow === "*") return true;
  return caller.allow.some(
    (entry) => entry.namespace === namespace && (entry.name === undefined || entry.name === name),
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Starts an emulated Kubernetes API server on loopback over HTTPS: the TokenRequest API with
 * bearer authentication and a per-caller allow list, and the service-account issuer's discovery
 * and JWKS, served anonymously.
 *
 * @example
 * ```ts
 * const kubernetes = await startKubernetes({
 *   serviceAccounts: [{ namespace: "prod", name: "billing" }],
 *   callers: [{ token: "t0k3n", user: "system:serviceaccount:fedcred:minter", allow: [{ namespace: "prod" }] }],
 * });
 * const config = new KubeConfig();
 * config.loadFromString(JSON.stringify(kubernetes.kubeconfig({ token: "t0k3n" })));
 * await kubernetes.close();
 * ```
 */
export async function startKubernetes(options: KubernetesOptions = {}): Promise<KubernetesApi> {
  const authority =
    options.tlsAuthority ?? (await createTlsAuthority("fedcred emulator Kubernetes CA"));
  const signingKey = await createSigningKey("RS256");
  const serviceAccounts = new Map<string, Required<KubernetesServiceAccount>>();
  const callers = new Map<string, KubernetesCaller>();
  const pods = new Map<string, Required<KubernetesPod>>();
  const faults = new FaultQueue<KubernetesFault>((fault) => {
    if (!Number.isInteger(fault.status) || fault.status < 400 || fault.status > 599) {
      throw new TypeError("a Kubernetes fault's status must be 400 to 599");
    }
  });
  const addPod = (pod: KubernetesPod): Required<KubernetesPod> => {
    const stored = { ...pod, uid: pod.uid ?? randomUUID() };
    pods.set(`${pod.namespace}/${pod.name}`, stored);
    return stored;
  };
  for (const pod of options.pods ?? []) addPod(pod);
  const requests: KubernetesRequestRecord[] = [];
  let tokenRequestCount = 0;
  // Set once the server listens; the issuer defaults to the server's own URL.
  let issuer = options.issuer ?? "";
  let jwksUri = options.jwksUri ?? "";
  let apiAudiences: readonly string[] = options.apiAudiences ?? [];

  const addServiceAccount = (
    account: KubernetesServiceAccount,
  ): Required<KubernetesServiceAccount> => {
    const stored = {
      namespace: account.namespace,
      name: account.name,
      uid: account.uid ?? randomUUID(),
    };
    serviceAccounts.set(`${account.namespace}/${account.name}`, stored);
    return stored;
  };
  const addCaller = (caller: KubernetesCaller): void => {
    callers.set(caller.token, caller);
  };
  for (const account of options.serviceAccounts ?? []) addServiceAccount(account);
  for (const caller of options.callers ?? []) addCaller(caller);

  const signToken = async (
    account: Required<KubernetesServiceAccount>,
    audiences: readonly string[],
    expirationSeconds: number,
    now: number,
    pod?: Required<KubernetesPod>,
  ): Promise<string> => {
    const issuedAt = Math.floor(now / 1000);
    // Same claim set as the API server's unbound TokenRequest tokens; its header has no `typ`.
    return signingKey.sign(
      {
        aud: [...audiences],
        exp: issuedAt + expirationSeconds,
        iat: issuedAt,
        iss: issuer,
        jti: randomUUID(),
        "kubernetes.io": {
          namespace: account.namespace,
          ...(pod ? { pod: { name: pod.name, uid: pod.uid } } : {}),
          serviceaccount: { name: account.name, uid: account.uid },
        },
        nbf: issuedAt,
        sub: `system:serviceaccount:${account.namespace}:${account.name}`,
      },
      { typ: undefined },
    );
  };

  const capExpiration = (requested: number): number =>
    options.maxExpirationSeconds !== undefined && requested > options.maxExpirationSeconds
      ? options.maxExpirationSeconds
      : requested;

  const openidConfiguration = (): Record<string, unknown> =>
    issuerDiscovery(issuer, jwksUri, ["RS256"]);

  /** The API server's checks of `spec.boundObjectRef`, for pods (the emulator binds nothing else). */
  const bindPod = (
    reference: unknown,
    account: Required<KubernetesServiceAccount>,
  ): Required<KubernetesPod> | KubernetesStatus => {
    const ref = reference as {
      kind?: unknown;
      apiVersion?: unknown;
      name?: unknown;
      uid?: unknown;
    };
    const apiVersion = typeof ref.apiVersion === "string" ? ref.apiVersion : "";
    if (ref.kind !== "Pod" || apiVersion !== "v1") {
      return badRequest(
        `cannot bind token to object of type ${apiVersion === "v1" ? "/v1" : apiVersion}, Kind=${String(ref.kind)}`,
      );
    }
    const name = typeof ref.name === "string" ? ref.name : "";
    const pod = pods.get(`${account.namespace}/${name}`);
    if (!pod) return podNotFound(name);
    if (pod.serviceAccount !== account.name) {
      return badRequest(
        `cannot bind token for serviceaccount "${account.name}" to pod running with different serviceaccount name.`,
      );
    }
    if (typeof ref.uid === "string" && ref.uid !== "" && ref.uid !== pod.uid) {
      return conflict(
        "Pod",
        name,
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
    return pod;
  };

  const handleTokenRequest = async (
    request: IncomingMessage,
    namespace: string,
    name: string,
    text: string,
  ): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> => {
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (contentType !== "application/json") return failed(unsupportedMediaType(contentType));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      return failed(
        badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`),
      );
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return failed(badRequest("couldn't get version/kind; json parse error: not an object"));
    }
    const tokenRequest = body as {
      apiVersion?: unknown;
      kind?: unknown;
      metadata?: { name?: unknown; namespace?: unknown };
      spec?: { audiences?: unknown; expirationSeconds?: unknown; boundObjectRef?: unknown };
    };
    // The API server defaults an absent apiVersion/kind from the endpoint, but refuses others.
    if (
      tokenRequest.apiVersion !== undefined &&
      tokenRequest.apiVersion !== "authentication.k8s.io/v1"
    ) {
      return failed(
        badRequest(
          `the API version in the data (${String(tokenRequest.apiVersion)}) does not match the expected API version (authentication.k8s.io/v1)`,
        ),
      );
    }
    if (tokenRequest.kind !== undefined && tokenRequest.kind !== "TokenRequest") {
      return failed(
        badRequest(
          `no kind "${String(tokenRequest.kind)}" is registered for version "authentication.k8s.io/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"`,
        ),
      );
    }
    const spec = tokenRequest.spec ?? {};
    const audiences = spec.audiences ?? [];
    if (!Array.isArray(audiences) || audiences.some((audience) => typeof audience !== "string")) {
      return failed(
        badRequest(
          "json: cannot unmarshal into Go struct field TokenRequestSpec.spec.audiences of type []string",
        ),
      );
    }
    const requestedExpiration = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    if (typeof requestedExpiration !== "number" || !Number.isInteger(requestedExpiration)) {
      return failed(
        badRequest(
          "json: cannot unmarshal into Go struct field TokenRequestSpec.spec.expirationSeconds of type int64",
        ),
      );
    }
    const metadata = tokenRequest.metadata ?? {};
    if (typeof metadata.name === "string" && metadata.name !== "" && metadata.name !== name) {
      return failed(
        tokenRequestInvalid(
          name,
          "metadata.name",
          metadata.name,
          "must match the service account name if specified",
        ),
      );
    }
    if (
      typeof metadata.namespace === "string" &&
      metadata.namespace !== "" &&
      metadata.namespace !== namespace
    ) {
      return failed(
        tokenRequestInvalid(
          name,
          "metadata.namespace",
          metadata.namespace,
          "must match the service account namespace if specified",
        ),
      );
    }
    const account = serviceAccounts.get(`${namespace}/${name}`);
    if (!account) return failed(serviceAccountNotFound(name));
    if (requestedExpiration < MIN_EXPIRATION_SECONDS) {
      return failed(
        tokenRequestInvalid(
          "",
          "spec.expirationSeconds",
          requestedExpiration,
          "may not specify a duration less than 10 minutes",
        ),
      );
    }
    if (requestedExpiration > MAX_EXPIRATION_SECONDS) {
      return failed(
        tokenRequestInvalid(
          "",
          "spec.expirationSeconds",
          requestedExpiration,
          "may not specify a duration larger than 2^32 seconds",
        ),
      );
    }
    let boundPod: Required<KubernetesPod> | undefined;
    if (spec.boundObjectRef !== undefined && spec.boundObjectRef !== null) {
      const bound = bindPod(spec.boundObjectRef, account);
      if ("code" in bound) return failed(bound);
      boundPod = bound;
    }
    const expirationSeconds = capExpiration(requestedExpiration);
    const headers: Record<string, string> = {};
    if (expirationSeconds !== requestedExpiration) {
      headers.warning = `299 - "requested expiration of ${requestedExpiration} seconds shortened to ${expirationSeconds} seconds"`;
    }
    const grantedAudiences = audiences.length > 0 ? (audiences as string[]) : [...apiAudiences];
    const now = Date.now();
    const token = await signToken(account, grantedAudiences, expirationSeconds, now, boundPod);
    return {
      status: 201,
      headers,
      body: {
        kind: "TokenRequest",
        apiVersion: "authentication.k8s.io/v1",
        metadata: {
          name: account.name,
          namespace: account.namespace,
          uid: account.uid,
          creationTimestamp: rfc3339(now),
        },
        spec: {
          audiences: grantedAudiences,
          expirationSeconds,
          boundObjectRef: boundPod
            ? { kind: "Pod", apiVersion: "v1", name: boundPod.name, uid: boundPod.uid }
            : null,
        },
        status: {
          token,
          expirationTimestamp: rfc3339(Math.floor(now / 1000) * 1000 + expirationSeconds * 1000),
        },
      },
    };
  };

  const handler = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? "GET";
    const path = new URL(request.url ?? "/", "https://localhost").pathname;
    const text = await readBody(request);
    const record: KubernetesRequestRecord = {
      method,
      path,
      body: text ? parseJson(text) : undefined,
      status: 0,
    };
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      requests.push(record);
      sendJson(response, status, body, { "audit-id": randomUUID(), ...headers });
    };
    const refuse = (status: KubernetesStatus): void => answer(status.code, status);

    // Issuer discovery is anonymous on clusters that bind system:service-account-issuer-discovery.
    if (method === "GET" && path === "/.well-known/openid-configuration") {
      return answer(200, openidConfiguration());
    }
    if (method === "GET" && path === "/openid/v1/jwks") {
      return answer(200, jwks([signingKey]), { "content-type": "application/jwk-set+json" });
    }

    const match = TOKEN_PATH.exec(path);
    if (match && method === "POST") tokenRequestCount += 1;
    const token = bearerToken(request);
    const caller = token ? callers.get(token) : undefined;
    if (!caller) return refuse(unauthorized());
    record.user = caller.user;
    if (!match) return refuse(resourceNotFound());
    if (method !== "POST") return refuse(methodNotAllowed());
    const fault = faults.take();
    if (fault) {
      const reason = fault.reason ?? (fault.status === 429 ? "TooManyRequests" : "InternalError");
      return answer(
        fault.status,
        {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message:
            fault.message ??
            (fault.status === 429
              ? "Too many requests, please try again later."
              : "an error on the server has prevented the request from succeeding"),
          reason,
          details: { retryAfterSeconds: fault.retryAfter ?? 1 },
          code: fault.status,
        },
        fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {},
      );
    }
    const namespace = decodeURIComponent(match[1]!);
    const name = decodeURIComponent(match[2]!);
    if (!mayCreateToken(caller, namespace, name)) {
      return refuse(forbidden(caller.user, namespace, name));
    }
    const result = await handleTokenRequest(request, namespace, name, text);
    return answer(result.status, result.body, result.headers);
  };

  const server = await listen(handler, {
    host: options.host,
    port: options.port,
    tls: { cert: authority.serverCertificate, key: authority.serverKey },
  });
  issuer ||= server.url;
  jwksUri ||= `${issuer}/openid/v1/jwks`;
  if (apiAudiences.length === 0) apiAudiences = [issuer];

  const kubeconfig = (config: KubeconfigOptions): Kubeconfig => {
    const entry = config.name ?? "fedcred-emulator";
    return {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: entry,
          cluster: {
            server: server.url,
            "certificate-authority-data": Buffer.from(authority.caCertificate).toString("base64"),
          },
        },
      ],
      users: [{ name: entry, user: { token: config.token } }],
      contexts: [
        {
          name: entry,
          context: {
            cluster: entry,
            user: entry,
            ...(config.namespace ? { namespace: config.namespace } : {}),
          },
        },
      ],
      "current-context": entry,
      preferences: {},
    };
  };

  return {
    url: server.url,
    port: server.port,
    issuer,
    caCertificate: authority.caCertificate,
    requests,
    faults,
    get tokenRequestCount() {
      return tokenRequestCount;
    },
    get openidConfiguration() {
      return openidConfiguration();
    },
    jwks: () => jwks([signingKey]) as { keys: Record<string, unknown>[] },
    kubeconfig,
    writeKubeconfig: (path, config) =>
      writeFile(path, `${JSON.stringify(kubeconfig(config), null, 2)}\n`, { mode: 0o600 }),
    addServiceAccount,
    addPod,
    addCaller,
    mintServiceAccountToken: async (mint) => {
      const account = serviceAccounts.get(`${mint.namespace}/${mint.name}`);
      if (!account)
        throw new Error(
          `serviceaccounts "${mint.name}" not found in namespace "${mint.namespace}"`,
        );
      const expirationSeconds = capExpiration(mint.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS);
      const audiences = mint.audiences && mint.audiences.length > 0 ? mint.audiences : apiAudiences;
      const now = Date.now();
      const token = await signToken(account, audiences, expirationSeconds, now);
      return { token, expiresAt: new Date((Math.floor(now / 1000) + expirationSeconds) * 1000) };
    },
    close: () => server.close(),
  };
}
