export type { Handler, ListenOptions, RunningServer } from "./http.js";
export type { SigningKey } from "./keys.js";
export { createSigningKey } from "./keys.js";
export type { TlsAuthority } from "./tls.js";
export { createTlsAuthority } from "./tls.js";
export type {
  Kubeconfig,
  KubeconfigOptions,
  KubernetesAllowList,
  KubernetesApi,
  KubernetesCaller,
  KubernetesOptions,
  KubernetesRequestRecord,
  KubernetesServiceAccount,
  MintServiceAccountTokenOptions,
} from "./kubernetes.js";
export { startKubernetes } from "./kubernetes.js";
export type {
  ProjectedToken,
  ProjectedVolume,
  ProjectedVolumeOptions,
  ServiceAccountTokenProjection,
} from "./projected-volume.js";
export { startProjectedVolume } from "./projected-volume.js";
