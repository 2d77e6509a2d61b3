import {
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  CredentialUnavailableError,
} from "@fedcred/core";
import { AZURE_FEDERATED_TOKEN_FILE } from "@fedcred/file";
import { azureProxyRoute } from "./azure-proxy.js";
import { fromProjectedServiceAccountToken } from "./projected-service-account-token.js";

/**
 * Options of {@link workloadIdentityCredential}: those of `@azure/identity`'s
 * `WorkloadIdentityCredential`, and every option of `ClientAssertionCredential`.
 *
 * @example
 * ```ts
 * import type { WorkloadIdentityCredentialOptions } from "@fedcred/kubernetes";
 *
 * const options: WorkloadIdentityCredentialOptions = { enableAzureProxy: true };
 * ```
 */
export interface WorkloadIdentityCredentialOptions extends ClientAssertionCredentialOptions {
  /** The tenant id. Default: `AZURE_TENANT_ID`. */
  tenantId?: string;
  /** The client id of the app or user-assigned managed identity. Default: `AZURE_CLIENT_ID`. */
  clientId?: string;
  /** The projected service-account token file. Default: `AZURE_FEDERATED_TOKEN_FILE`. */
  tokenFilePath?: string;
  /**
   * Sends token requests through the AKS identity-binding token proxy the webhook describes
   * (`AZURE_KUBERNETES_TOKEN_PROXY`, `AZURE_KUBERNETES_SNI_NAME`, `AZURE_KUBERNETES_CA_FILE` or
   * `AZURE_KUBERNETES_CA_DATA`), over TLS with that server name and only that CA. Default
   * `false`: the variables are ignored (and logged once). Without the proxy, pods of an identity
   * binding get AADSTS700211/700212 for the audience `api://AKSIdentityBinding`.
   */
  enableAzureProxy?: boolean;
  /** The name `enableAzureProxy` had in a beta of `@azure/identity`; either turns it on. */
  enableAzureKubernetesTokenProxy?: boolean;
}

/**
 * A ready `ClientAssertionCredential` from the workload-identity webhook's environment
 * (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST`):
 * the drop-in for `@azure/identity`'s `WorkloadIdentityCredential`. Explicit options beat the
 * environment. The token file is read per token request, through its unresolved path.
 *
 * @throws {@link CredentialUnavailableError} `missing_configuration` listing every missing
 *   value at once (option and variable), `invalid_configuration` for a bad token-proxy setup.
 *
 * @example
 * ```ts
 * import { workloadIdentityCredential } from "@fedcred/kubernetes";
 * import { BlobServiceClient } from "@azure/storage-blob";
 *
 * const credential = workloadIdentityCredential({ enableAzureProxy: true });
 * const blobs = new BlobServiceClient("https://account.blob.core.windows.net", credential);
 * ```
 */
export function workloadIdentityCredential(
  options: WorkloadIdentityCredentialOptions = {},
): ClientAssertionCredential {
  const env = process.env;
  const {
    tenantId: tenantOption,
    clientId: clientOption,
    tokenFilePath: fileOption,
    enableAzureProxy,
    enableAzureKubernetesTokenProxy,
    ...credentialOptions
  } = options ?? {};
  const tenantId = tenantOption || env.AZURE_TENANT_ID;
  const clientId = clientOption || env.AZURE_CLIENT_ID;
  const tokenFilePath = fileOption || env[AZURE_FEDERATED_TOKEN_FILE];
  const missing = [
    tenantId ? undefined : "the tenant id (options.tenantId or AZURE_TENANT_ID)",
    clientId ? undefined : "the client id (options.clientId or AZURE_CLIENT_ID)",
    tokenFilePath
      ? undefined
      : `the token file (options.tokenFilePath or ${AZURE_FEDERATED_TOKEN_FILE})`,
  ].filter((entry) => entry !== undefined);
  if (missing.length > 0) {
    throw new CredentialUnavailableError(
      `workloadIdentityCredential is missing ${missing.join(", ")}. In a pod, the workload-identity webhook sets them when the pod has the label azure.workload.identity/use: "true" and its service account the annotation azure.workload.identity/client-id.`,
      "missing_configuration",
    );
  }
  const enabled = enableAzureProxy === true || enableAzureKubernetesTokenProxy === true;
  const tokenProxy = azureProxyRoute(enabled, env);
  if (tokenProxy !== undefined && credentialOptions.tokenProxy !== undefined) {
    throw new CredentialUnavailableError(
      "Pass either enableAzureProxy (the AKS token proxy from the environment) or tokenProxy, not both.",
      "invalid_configuration",
    );
  }
  return new ClientAssertionCredential(
    tenantId as string,
    clientId as string,
    fromProjectedServiceAccountToken({ path: tokenFilePath as string }),
    tokenProxy === undefined ? credentialOptions : { ...credentialOptions, tokenProxy },
  );
}
