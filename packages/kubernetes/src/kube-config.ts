import { readFile } from "node:fs/promises";
import { CredentialUnavailableError } from "@fedcred/core";

/** The module of `@kubernetes/client-node`, loaded on first use. */
export type ClientNode = typeof import("@kubernetes/client-node");

/**
 * What fedcred uses of a `KubeConfig` of `@kubernetes/client-node` (1.4 or newer): pass the
 * `KubeConfig` itself. Declared here so that the types of this package do not need
 * `@kubernetes/client-node` installed.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "@kubernetes/client-node";
 * import type { KubeConfigLike } from "@fedcred/kubernetes";
 *
 * const kubeConfig: KubeConfigLike = new KubeConfig();
 * kubeConfig.loadFromFile("/etc/fedcred/kubeconfig");
 * ```
 */
export interface KubeConfigLike {
  getCurrentContext(): string;
  getContextObject(name: string): { namespace?: string | undefined } | null;
  getCurrentCluster(): { server: string } | null;
  getCurrentUser(): { name: string } | null;
  makeApiClient(apiClientType: never): unknown;
}

/** The in-cluster files of the pod's own service account. */
const IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/** What `loadFromDefault()` falls back to when it found nothing at all. */
const NOTHING_FOUND = { context: "loaded-context", server: "http://localhost:8080" };

let loading: Promise<ClientNode> | undefined;

/**
 * Imports `@kubernetes/client-node` once (it is ESM-only and heavy: users of the projected token
 * file never load it). A missing install is a `CredentialUnavailableError` saying what to install.
 */
export function loadClientNode(): Promise<ClientNode> {
  loading ??= import("@kubernetes/client-node").catch((error: unknown) => {
    loading = undefined;
    throw new CredentialUnavailableError(
      `fromServiceAccountToken needs @kubernetes/client-node, which could not be loaded (${(error as { code?: string }).code ?? (error as Error).message}): npm install @kubernetes/client-node (1.4.x on Node 20; 2.x needs Node 22).`,
      "missing_configuration",
      { cause: error },
    );
  });
  return loading;
}

/** The cluster to call, the namespace to default to and who the caller is, for messages. */
export interface Cluster {
  kubeConfig: KubeConfigLike;
  server: string;
  user: string;
  /** The kubeconfig context's namespace, else the pod's own, else `default`. */
  namespace: string;
}

/** `loadFromDefault()`, with "found nothing" and unreadable files as errors that say what to fix. */
export async function resolveCluster(
  clientNode: ClientNode,
  given: KubeConfigLike | undefined,
): Promise<Cluster> {
  let kubeConfig = given;
  if (kubeConfig === undefined) {
    const loaded = new clientNode.KubeConfig();
    try {
      loaded.loadFromDefault();
    } catch (error) {
      // Never the parser's message: it quotes the lines around the fault, tokens included.
      throw new CredentialUnavailableError(
        `The Kubernetes configuration could not be loaded (${describeLoadFailure(error)}): check KUBECONFIG or ~/.kube/config.`,
        "invalid_configuration",
      );
    }
    kubeConfig = loaded;
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (
    cluster === null ||
    (given === undefined &&
      kubeConfig.getCurrentContext() === NOTHING_FOUND.context &&
      cluster.server === NOTHING_FOUND.server)
  ) {
    throw new CredentialUnavailableError(
      "No Kubernetes cluster is configured: no KUBECONFIG, no ~/.kube/config with a current context, and not in a pod (no /var/run/secrets/kubernetes.io/serviceaccount/token). Pass options.kubeConfig, set KUBECONFIG, or run in the cluster.",
      "missing_configuration",
    );
  }
  let server: URL | undefined;
  try {
    server = new URL(cluster.server);
  } catch {
    server = undefined;
  }
  if (server === undefined || server.hostname === "undefined") {
    throw new CredentialUnavailableError(
      `The Kubernetes cluster's server is not a valid URL: ${JSON.stringify(cluster.server)}. In a pod, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set.`,
      "invalid_configuration",
    );
  }
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  const namespace = context?.namespace?.trim() || (await inClusterNamespace()) || "default";
  return {
    kubeConfig,
    server: server.origin,
    user: kubeConfig.getCurrentUser()?.name ?? "(none)",
    namespace,
  };
}

/** What went wrong loading a kubeconfig, without quoting any of its content. */
function describeLoadFailure(error: unknown): string {
  const { name, code, reason, mark } = error as {
    name?: unknown;
    code?: unknown;
    reason?: unknown;
    mark?: { line?: unknown };
  };
  if (name === "YAMLException") {
    const line = typeof mark?.line === "number" ? ` at line ${mark.line + 1}` : "";
    return `it is not valid YAML${line}${typeof reason === "string" ? `: ${reason}` : ""}`;
  }
  if (typeof code === "string") return code;
  return "it is not a valid kubeconfig";
}

async function inClusterNamespace(): Promise<string | undefined> {
  try {
    return (await readFile(IN_CLUSTER_NAMESPACE_FILE, "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}
