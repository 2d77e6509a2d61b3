import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  type MemoizedAssertion,
  memoizeAssertion,
} from "@fedcred/core";
import {
  type ClientNode,
  type Cluster,
  type KubeConfigLike,
  loadClientNode,
  resolveCluster,
} from "./kube-config.js";
import { checkNamespace, checkServiceAccountName } from "./names.js";

/**
 * The audience Entra ID expects of federated tokens in the public cloud, and the default of
 * `fromServiceAccountToken`'s `audience`.
 *
 * @example
 * ```ts
 * import { DEFAULT_AUDIENCE, fromServiceAccountToken } from "@fedcred/kubernetes";
 *
 * fromServiceAccountToken({ serviceAccount: "billing", audience: DEFAULT_AUDIENCE });
 * ```
 */
export const DEFAULT_AUDIENCE = "api://AzureADTokenExchange";

/** The smallest `expirationSeconds` the TokenRequest API accepts. */
const MIN_EXPIRATION_SECONDS = 600;
/** Entra refuses external tokens that live longer than 1 day 1 hour (AADSTS70023). */
const MAX_EXPIRATION_SECONDS = 25 * 3600;
/** The TokenRequest is renewed once this much of the granted lifetime has passed, as the kubelet does. */
const RENEW_AT = 0.8;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The object a token is bound to: it stops being valid when that object is deleted.
 *
 * @example
 * ```ts
 * import type { BoundObjectReference } from "@fedcred/kubernetes";
 *
 * const boundObjectRef: BoundObjectReference = { kind: "Pod", apiVersion: "v1", name: process.env.POD_NAME!, uid: process.env.POD_UID };
 * ```
 */
export interface BoundObjectReference {
  /** `Pod`, `Secret` or `Node`. */
  kind: "Pod" | "Secret" | "Node";
  /** Default `v1`. */
  apiVersion?: string;
  name: string;
  uid?: string;
}

/**
 * Options of {@link fromServiceAccountToken}.
 *
 * @example
 * ```ts
 * import type { ServiceAccountTokenOptions } from "@fedcred/kubernetes";
 *
 * const options: ServiceAccountTokenOptions = { serviceAccount: "billing", namespace: "prod", expirationSeconds: 3600 };
 * ```
 */
export interface ServiceAccountTokenOptions {
  /** The service account to mint a token for (required): a DNS subdomain name. */
  serviceAccount: string;
  /**
   * Its namespace. Default: the namespace of the kubeconfig's current context, else the pod's
   * own (`/var/run/secrets/kubernetes.io/serviceaccount/namespace`), else `default`.
   */
  namespace?: string;
  /**
   * The token's audience, which the federated identity credential must list. Default
   * `api://AzureADTokenExchange` (US Government: `api://AzureADTokenExchangeUSGov`, China:
   * `api://AzureADTokenExchangeChina`).
   */
  audience?: string;
  /**
   * The lifetime asked for, in seconds: a whole number from 600 to 90 000 (Entra refuses
   * longer-lived tokens). Default 3600, always sent explicitly. The server may grant less;
   * the granted lifetime is what counts.
   */
  expirationSeconds?: number;
  /** Binds the token to a Pod, Secret or Node: it dies with that object. */
  boundObjectRef?: BoundObjectReference;
  /**
   * The cluster and the caller's credentials: a `KubeConfig` of `@kubernetes/client-node`.
   * Default: `loadFromDefault()` (`KUBECONFIG`, `~/.kube/config`, or the pod's in-cluster
   * configuration). The caller needs RBAC `create` on `serviceaccounts/token`.
   */
  kubeConfig?: KubeConfigLike;
  /** One deadline for each TokenRequest, in milliseconds. Default 30 000. */
  requestTimeoutInMs?: number;
}

/**
 * An assertion from the Kubernetes TokenRequest API
 * (`POST /api/v1/namespaces/{namespace}/serviceaccounts/{name}/token`), through
 * `@kubernetes/client-node` (a peer dependency, loaded on the first call). The token is kept
 * until 80% of the lifetime the server granted (`status.expirationTimestamp`) has passed;
 * concurrent calls share one TokenRequest; `context.forceRefresh` (Entra said AADSTS700024)
 * mints a new one at once.
 *
 * Its subject is `system:serviceaccount:{namespace}:{name}` and its issuer the cluster's
 * service-account issuer: the federated identity credential must name both, and the audience.
 *
 * @throws {@link CredentialUnavailableError} at once for invalid options (`invalid_configuration`,
 *   `missing_configuration`). Calls reject with `CredentialUnavailableError` when no cluster is
 *   configured or reachable, and `AuthenticationError` (`assertion_failed`) when the API server
 *   refuses: 401 (the caller's credentials), 403 (names the RBAC rule and the caller), 404
 *   (names the namespace and service account).
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromServiceAccountToken } from "@fedcred/kubernetes";
 *
 * const credential = new ClientAssertionCredential(
 *   tenantId,
 *   clientId,
 *   fromServiceAccountToken({ serviceAccount: "billing", namespace: "prod" }),
 * );
 * ```
 */
export function fromServiceAccountToken(options: ServiceAccountTokenOptions): AssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw new CredentialUnavailableError(
      "fromServiceAccountToken needs options: at least { serviceAccount }.",
      "missing_configuration",
    );
  }
  const name = options.serviceAccount;
  checkServiceAccountName(name, "options.serviceAccount");
  if (options.namespace !== undefined) checkNamespace(options.namespace, "options.namespace");
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  if (typeof audience !== "string" || audience.trim() === "") {
    throw new CredentialUnavailableError(
      `options.audience must be a non-empty string, such as ${DEFAULT_AUDIENCE}.`,
      "invalid_configuration",
    );
  }
  const expirationSeconds = options.expirationSeconds ?? 3600;
  if (
    !Number.isInteger(expirationSeconds) ||
    expirationSeconds < MIN_EXPIRATION_SECONDS ||
    expirationSeconds > MAX_EXPIRATION_SECONDS
  ) {
    throw new CredentialUnavailableError(
      `options.expirationSeconds must be a whole number of seconds from ${MIN_EXPIRATION_SECONDS} (the TokenRequest API's minimum) to ${MAX_EXPIRATION_SECONDS} (Entra refuses tokens that live longer, AADSTS70023), got ${String(expirationSeconds)}.`,
      "invalid_configuration",
    );
  }
  const boundObjectRef = checkBoundObjectRef(options.boundObjectRef);
  const timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutInMs) || timeoutInMs < 1 || timeoutInMs > 2 ** 31 - 1) {
    throw new CredentialUnavailableError(
      `options.requestTimeoutInMs must be a whole number of milliseconds of at least 1, got ${String(timeoutInMs)}.`,
      "invalid_configuration",
    );
  }
  const kubeConfig = options.kubeConfig;
  if (kubeConfig !== undefined && typeof kubeConfig?.makeApiClient !== "function") {
    throw new CredentialUnavailableError(
      "options.kubeConfig must be a KubeConfig of @kubernetes/client-node.",
      "invalid_configuration",
    );
  }

  let connecting: Promise<Connection> | undefined;
  const connect = (): Promise<Connection> => {
    connecting ??= connectTo(kubeConfig, options.namespace).catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  };

  return memoizeAssertion(async (context: AssertionContext): Promise<MemoizedAssertion> => {
    const connection = await connect();
    const request: TokenRequestCall = {
      namespace: connection.cluster.namespace,
      name,
      audience,
      expirationSeconds,
      boundObjectRef,
    };
    const startedAt = Date.now();
    const status = await createToken(connection, request, context.abortSignal, timeoutInMs);
    const expiresOnTimestamp = status.expiresOnTimestamp;
    return {
      assertion: status.token,
      expiresOnTimestamp,
      refreshAfterTimestamp: startedAt + RENEW_AT * (expiresOnTimestamp - startedAt),
    };
  });
}

interface Connection {
  clientNode: ClientNode;
  cluster: Cluster;
  api: import("@kubernetes/client-node").CoreV1Api;
}

async function connectTo(
  kubeConfig: KubeConfigLike | undefined,
  namespace: string | undefined,
): Promise<Connection> {
  const clientNode = await loadClientNode();
  const cluster = await resolveCluster(clientNode, kubeConfig);
  if (namespace !== undefined) {
    cluster.namespace = namespace;
  } else {
    checkNamespace(cluster.namespace, "The namespace of the current kubeconfig context");
  }
  const api = cluster.kubeConfig.makeApiClient(clientNode.CoreV1Api as never) as Connection["api"];
  return { clientNode, cluster, api };
}

function checkBoundObjectRef(
  reference: BoundObjectReference | undefined,
): BoundObjectReference | undefined {
  if (reference === undefined) return undefined;
  const kinds = ["Pod", "Secret", "Node"];
  if (
    typeof reference !== "object" ||
    reference === null ||
    !kinds.includes(reference.kind) ||
    typeof reference.name !== "string" ||
    reference.name === "" ||
    (reference.uid !== undefined && typeof reference.uid !== "string") ||
    (reference.apiVersion !== undefined && typeof reference.apiVersion !== "string")
  ) {
    throw new CredentialUnavailableError(
      'options.boundObjectRef must be { kind: "Pod" | "Secret" | "Node", name, uid?, apiVersion? }.',
      "invalid_configuration",
    );
  }
  return {
    kind: reference.kind,
    apiVersion: reference.apiVersion ?? "v1",
    name: reference.name,
    ...(reference.uid !== undefined ? { uid: reference.uid } : {}),
  };
}

interface TokenRequestCall {
  namespace: string;
  name: string;
  audience: string;
  expirationSeconds: number;
  boundObjectRef: BoundObjectReference | undefined;
}

/** Posts one TokenRequest; what comes back is checked, what fails says what to fix. */
async function createToken(
  connection: Connection,
  call: TokenRequestCall,
  callerSignal: AbortSignal | undefined,
  timeoutInMs: number,
): Promise<{ token: string; expiresOnTimestamp: number }> {
  const deadline = AbortSignal.timeout(timeoutInMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
  let response: Awaited<ReturnType<Connection["api"]["createNamespacedServiceAccountToken"]>>;
  try {
    response = await connection.api.createNamespacedServiceAccountToken(
      {
        name: call.name,
        namespace: call.namespace,
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: [call.audience],
            expirationSeconds: call.expirationSeconds,
            ...(call.boundObjectRef ? { boundObjectRef: call.boundObjectRef } : {}),
          },
        },
      },
      {
        // Observable is client-node's own promise wrapper; this middleware hands the request
        // our signal, so a deadline or the last waiter's abort ends the TokenRequest.
        middleware: [
          {
            pre: (context) => {
              context.setSignal(signal as never);
              return new connection.clientNode.Observable(Promise.resolve(context));
            },
            post: (context) => new connection.clientNode.Observable(Promise.resolve(context)),
          },
        ],
        middlewareMergeStrategy: "append",
      },
    );
  } catch (error) {
    if (callerSignal?.aborted) throw callerSignal.reason;
    if (deadline.aborted) {
      throw new CredentialUnavailableError(
        `The Kubernetes API server at ${connection.cluster.server} did not answer the TokenRequest for ${call.namespace}/${call.name} within ${timeoutInMs} ms.`,
        "assertion_unavailable",
      );
    }
    throw describeFailure(error, connection, call);
  }
  const token = response?.status?.token;
  const expiration = response?.status?.expirationTimestamp as Date | string | undefined;
  const expiresOnTimestamp =
    expiration instanceof Date ? expiration.getTime() : Date.parse(String(expiration));
  if (typeof token !== "string" || token === "" || !Number.isFinite(expiresOnTimestamp)) {
    throw new AuthenticationError(
      `The Kubernetes API server at ${connection.cluster.server} answered the TokenRequest for ${call.namespace}/${call.name} without status.token and status.expirationTimestamp.`,
      "assertion_failed",
    );
  }
  if (expiresOnTimestamp <= Date.now()) {
    throw new AuthenticationError(
      `The Kubernetes API server at ${connection.cluster.server} granted a token for ${call.namespace}/${call.name} that expired at ${new Date(expiresOnTimestamp).toISOString()}: check the clocks of this machine and the cluster.`,
      "assertion_failed",
    );
  }
  return { token, expiresOnTimestamp };
}

/** A Kubernetes `Status` object, as the API server sends with every refusal. */
interface KubernetesStatus {
  message?: string;
  reason?: string;
}

function statusOf(body: unknown): KubernetesStatus {
  let value: unknown = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  return typeof value === "object" && value !== null ? (value as KubernetesStatus) : {};
}

/** The error for a refused or failed TokenRequest: what happened, and what to change. */
function describeFailure(error: unknown, connection: Connection, call: TokenRequestCall): Error {
  const { server, user } = connection.cluster;
  const target = `service account "${call.name}" in namespace "${call.namespace}"`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "number") {
    const status = statusOf((error as { body?: unknown }).body);
    const said = status.message ? ` The API server said: ${status.message}` : "";
    let message: string;
    switch (code) {
      case 401:
        message = `The Kubernetes API server at ${server} did not accept the credentials of kubeconfig user "${user}" (401 Unauthorized): its token or client certificate is invalid or expired.`;
        break;
      case 403: {
        const caller = /User "([^"]*)"/.exec(status.message ?? "")?.[1] ?? user;
        message = `The Kubernetes API server at ${server} forbade "${caller}" to create a token for ${target} (403 Forbidden). Grant it RBAC "create" on "serviceaccounts/token" in namespace "${call.namespace}", e.g. kubectl create role fedcred-token-creator -n ${call.namespace} --verb=create --resource=serviceaccounts/token --resource-name=${call.name} && kubectl create rolebinding fedcred-token-creator -n ${call.namespace} --role=fedcred-token-creator --serviceaccount=NAMESPACE:NAME (the caller).${said}`;
        break;
      }
      case 404:
        message = `The Kubernetes API server at ${server} has no ${target} (404 Not Found): check options.serviceAccount and options.namespace, or create it (kubectl create serviceaccount ${call.name} -n ${call.namespace}).${said}`;
        break;
      default:
        message = `The Kubernetes API server at ${server} refused the TokenRequest for ${target} (${code}${status.reason ? ` ${status.reason}` : ""}).${said}`;
    }
    return new AuthenticationError(message, "assertion_failed");
  }
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const systemCode = typeof code === "string" ? code : cause?.code;
  const reason = typeof systemCode === "string" ? systemCode : (error as Error)?.message;
  const tls = typeof systemCode === "string" && /CERT|SSL|TLS|SELF_SIGNED/.test(systemCode);
  return new CredentialUnavailableError(
    tls
      ? `The TLS connection to the Kubernetes API server at ${server} failed (${reason}): check the cluster's certificate-authority in the kubeconfig.`
      : `The Kubernetes API server at ${server} is not reachable (${reason}): check the kubeconfig's server, or that this runs in the cluster.`,
    "assertion_unavailable",
    { cause: error },
  );
}
