import { setTimeout as sleep } from "node:timers/promises";
import { AuthenticationError, CredentialUnavailableError, raceAbort } from "@fedcred/core";
import type { ClientNode, Cluster } from "./kube-config.js";

/** A configured client of one cluster. */
export interface Connection {
  clientNode: ClientNode;
  cluster: Cluster;
  api: import("@kubernetes/client-node").CoreV1Api;
}

/** What one TokenRequest asks for. */
export interface TokenRequestCall {
  namespace: string;
  name: string;
  audience: string;
  expirationSeconds: number;
  boundObjectRef: { kind: string; apiVersion?: string; name: string; uid?: string } | undefined;
}

/** Answers worth asking again: the API server is throttling or briefly unavailable. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const MAX_ATTEMPTS = 3;
const MAX_RETRY_AFTER_MS = 5_000;
/** Failures of the connection itself, as Node and undici name them. */
const NETWORK =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_\w+)$/;
const TLS = /CERT|SSL|TLS|SELF_SIGNED|VERIFY|ISSUER|ERR_OSSL/;

/**
 * Posts one TokenRequest, asking again (at most three times in all) while the API server
 * answers 429 or 5xx; one deadline covers everything, the kubeconfig's credential plugin
 * included. What comes back is checked; what fails says what to fix.
 */
export async function createToken(
  connection: Connection,
  call: TokenRequestCall,
  callerSignal: AbortSignal | undefined,
  timeoutInMs: number,
): Promise<{ token: string; expiresOnTimestamp: number }> {
  const deadline = AbortSignal.timeout(timeoutInMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
  const target = `${call.namespace}/${call.name}`;
  const stopped = (): unknown =>
    callerSignal?.aborted
      ? callerSignal.reason
      : new CredentialUnavailableError(
          `No token for ${target} within ${timeoutInMs} ms (options.requestTimeoutInMs): neither the kubeconfig's credential plugin nor the Kubernetes API server at ${connection.cluster.server} answered in time.`,
          "assertion_unavailable",
        );
  let response: Awaited<ReturnType<Connection["api"]["createNamespacedServiceAccountToken"]>>;
  for (let attempt = 1; ; attempt++) {
    let transient: unknown;
    try {
      response = await raceAbort(
        send(connection, call, signal),
        signal,
        (aborted) => aborted.reason,
      );
      break;
    } catch (error) {
      if (signal.aborted) throw stopped();
      const status = (error as { code?: unknown }).code;
      if (typeof status !== "number" || !TRANSIENT.has(status) || attempt >= MAX_ATTEMPTS) {
        throw describeFailure(error, connection, call, attempt);
      }
      transient = error;
    }
    try {
      // Ref'd: a caller waits on this pause, and nothing else may be holding the process open.
      await sleep(retryDelay(transient, attempt), undefined, { signal });
    } catch {
      throw stopped();
    }
  }
  const token = response?.status?.token;
  const expiration = response?.status?.expirationTimestamp as Date | string | undefined;
  const expiresOnTimestamp =
    expiration instanceof Date ? expiration.getTime() : Date.parse(String(expiration));
  if (typeof token !== "string" || token === "" || !Number.isFinite(expiresOnTimestamp)) {
    throw new AuthenticationError(
      `The Kubernetes API server at ${connection.cluster.server} answered the TokenRequest for ${target} without status.token and status.expirationTimestamp.`,
      "assertion_failed",
    );
  }
  if (expiresOnTimestamp <= Date.now()) {
    throw new AuthenticationError(
      `The Kubernetes API server at ${connection.cluster.server} granted a token for ${target} that expired at ${new Date(expiresOnTimestamp).toISOString()}: check the clocks of this machine and the cluster.`,
      "assertion_failed",
    );
  }
  return { token, expiresOnTimestamp };
}

function send(connection: Connection, call: TokenRequestCall, signal: AbortSignal) {
  const { Observable } = connection.clientNode;
  return connection.api.createNamespacedServiceAccountToken(
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
      // Observable is client-node's own promise wrapper; this middleware hands the HTTP request
      // our signal, so a deadline or the last waiter's abort ends it.
      middleware: [
        {
          pre: (context) => {
            context.setSignal(signal as never);
            return new Observable(Promise.resolve(context));
          },
          post: (context) => new Observable(Promise.resolve(context)),
        },
      ],
      middlewareMergeStrategy: "append",
    },
  );
}

/** `Retry-After` in seconds when the server sent one (at most 5 s), else 0.5 s, 1 s. */
function retryDelay(error: unknown, attempt: number): number {
  const headers = (error as { headers?: Record<string, unknown> }).headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (Number.isFinite(retryAfter) && retryAfter >= 0) {
    return Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS);
  }
  return 500 * 2 ** (attempt - 1);
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

/** How to grant `caller` the right to create tokens for `call`'s service account. */
function rbacCommand(caller: string, call: TokenRequestCall): string {
  const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(caller);
  const subject = serviceAccount
    ? `--serviceaccount=${serviceAccount[1]}:${serviceAccount[2]}`
    : `--user=${caller}`;
  return `kubectl create role fedcred-token-creator -n ${call.namespace} --verb=create --resource=serviceaccounts/token --resource-name=${call.name} && kubectl create rolebinding fedcred-token-creator -n ${call.namespace} --role=fedcred-token-creator ${subject}`;
}

/** The error for a refused or failed TokenRequest: what happened, and what to change. */
function describeFailure(
  error: unknown,
  connection: Connection,
  call: TokenRequestCall,
  attempts: number,
): Error {
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
        message = `The Kubernetes API server at ${server} forbade "${caller}" to create a token for ${target} (403 Forbidden). Grant it RBAC "create" on "serviceaccounts/token" in namespace "${call.namespace}", for example: ${rbacCommand(caller, call)}.${said}`;
        break;
      }
      case 404:
        message = `The Kubernetes API server at ${server} has no ${target} (404 Not Found): check options.serviceAccount and options.namespace, or create it (kubectl create serviceaccount ${call.name} -n ${call.namespace}).${said}`;
        break;
      default:
        message = `The Kubernetes API server at ${server} refused the TokenRequest for ${target} (${code}${status.reason ? ` ${status.reason}` : ""}${attempts > 1 ? `, after ${attempts} attempts` : ""}).${said}`;
    }
    return new AuthenticationError(message, "assertion_failed");
  }
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const systemCode = typeof code === "string" ? code : cause?.code;
  if (typeof systemCode === "string" && TLS.test(systemCode)) {
    return new CredentialUnavailableError(
      `The TLS connection to the Kubernetes API server at ${server} failed (${systemCode}): check the cluster's certificate-authority(-data) in the kubeconfig.`,
      "assertion_unavailable",
    );
  }
  if (typeof systemCode === "string" && NETWORK.test(systemCode)) {
    return new CredentialUnavailableError(
      `The Kubernetes API server at ${server} is not reachable (${systemCode}): check the kubeconfig's server, or that this runs in the cluster.`,
      "assertion_unavailable",
    );
  }
  if (/HTTP protocol is not allowed/.test(String((error as Error)?.message))) {
    return new CredentialUnavailableError(
      `The kubeconfig's server ${server} is plain http, which @kubernetes/client-node refuses: use the API server's https address.`,
      "invalid_configuration",
    );
  }
  // Not the error's message: a credential plugin's output may hold its token.
  const kind = error instanceof Error ? error.name : typeof error;
  return new CredentialUnavailableError(
    `The TokenRequest for ${target} could not be sent to ${server} (${kind}${typeof systemCode === "string" ? ` ${systemCode}` : ""}): check the kubeconfig user "${user}"'s credentials (token, client certificate, exec plugin or auth provider).`,
    "assertion_unavailable",
  );
}
