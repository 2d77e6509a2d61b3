export {
  AZURE_KUBERNETES_CA_DATA,
  AZURE_KUBERNETES_CA_FILE,
  AZURE_KUBERNETES_SNI_NAME,
  AZURE_KUBERNETES_TOKEN_PROXY,
} from "./azure-proxy.js";
export type { KubeConfigLike } from "./kube-config.js";
export {
  fromProjectedServiceAccountToken,
  type ProjectedServiceAccountTokenOptions,
} from "./projected-service-account-token.js";
export {
  type BoundObjectReference,
  DEFAULT_AUDIENCE,
  fromServiceAccountToken,
  type ServiceAccountTokenOptions,
} from "./service-account-token.js";
export {
  type WorkloadIdentityCredentialOptions,
  workloadIdentityCredential,
} from "./workload-identity.js";
