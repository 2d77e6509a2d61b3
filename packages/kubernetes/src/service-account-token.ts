import {
  type AssertionContext,
  type AssertionFunc,
  CredentialUnavailableError,
  type MemoizedAssertion,
  memoizeAssertion,
} from "@fedcred/core";
import { type KubeConfigLike, loadClientNode, resolveCluster } from "./kube-config.js";
import { checkNamespace, checkServiceAccountName } from "./names.js";
import { type Connection, createToken, type TokenRequestCall } from "./token-request.js";

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
  // Every option is read once, here: a caller changing the object later changes nothing.
  const name = options.serviceAccount;
  checkServiceAccountName(name, "options.serviceAccount");
  const namespace = options.namespace ?? undefined;
  if (namespace === "") {
    throw new CredentialUnavailableError(
      "options.namespace is empty: name a namespace, or leave the option out for the kubeconfig context's.",
      "invalid_configuration",
    );
  }
  if (namespace !== undefined) checkNamespace(namespace, "options.namespace");
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
      `options.expirationSeconds must be a whole number of seconds from ${MIN_EXPIRATION_SECONDS} (the TokenRequest API's minimum) to ${MAX_EXPIRATION_SECONDS} (Entra refuses tokens that live longer, AADSTS70023), got ${typeof expirationSeconds === "string" ? JSON.stringify(expirationSeconds) : String(expirationSeconds)}.`,
      "invalid_configuration",
    );
  }
  const boundObjectRef = checkBoundObjectRef(options.boundObjectRef);
  const timeoutInMs = options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutInMs) || timeoutInMs < 1 || timeoutInMs > 2 ** 31 - 1) {
    throw new CredentialUnavailableError(
      `options.requestTimeoutInMs must be a whole number of milliseconds of at least 1, got ${typeof timeoutInMs === "string" ? JSON.stringify(timeoutInMs) : String(timeoutInMs)}.`,
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
    connecting ??= connectTo(kubeConfig, namespace).catch((error: unknown) => {
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
