import type { AssertionFunc } from "@fedcred/core";
import { fromFile } from "@fedcred/file";

/**
 * Options of {@link fromProjectedServiceAccountToken}.
 *
 * @example
 * ```ts
 * import type { ProjectedServiceAccountTokenOptions } from "@fedcred/kubernetes";
 *
 * const options: ProjectedServiceAccountTokenOptions = { path: "/var/run/secrets/azure/tokens/azure-identity-token" };
 * ```
 */
export interface ProjectedServiceAccountTokenOptions {
  /** The projected token file. Default: `AZURE_FEDERATED_TOKEN_FILE`. */
  path?: string;
  /** The pause before the one retry of a missing or empty file, in milliseconds. Default 100. */
  retryDelayInMs?: number;
}

/**
 * The service-account token the kubelet projects into the pod (a `serviceAccountToken` volume
 * projection, as the workload-identity webhook sets up), read through `@fedcred/file`: on every
 * call, through the unresolved path (the kubelet rotates the file by swapping a symlink at 80%
 * of its lifetime), retried once when missing or empty. `@kubernetes/client-node` is never loaded.
 *
 * @throws {@link CredentialUnavailableError} `missing_configuration` at once when neither
 *   `options.path` nor `AZURE_FEDERATED_TOKEN_FILE` is set; calls reject with
 *   `assertion_unavailable` (missing, empty or unreadable file) or `assertion_expired`.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromProjectedServiceAccountToken } from "@fedcred/kubernetes";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromProjectedServiceAccountToken());
 * ```
 */
export function fromProjectedServiceAccountToken(
  options: ProjectedServiceAccountTokenOptions = {},
): AssertionFunc {
  return fromFile({
    ...(options?.path !== undefined ? { path: options.path } : {}),
    ...(options?.retryDelayInMs !== undefined ? { retryDelayInMs: options.retryDelayInMs } : {}),
  });
}
