export type {
  AwsAccount,
  AwsPrincipal,
  AwsPrincipalPermissions,
  AwsSts,
  AwsStsFault,
  AwsStsFaultCode,
  AwsStsOptions,
  AwsStsRequestRecord,
} from "./aws-sts.js";
export { startAwsSts } from "./aws-sts.js";
export type {
  AzurePipelinesOidc,
  AzurePipelinesOptions,
  AzurePipelinesRequestRecord,
  AzurePipelinesServiceConnection,
} from "./azure-pipelines.js";
export { startAzurePipelines } from "./azure-pipelines.js";
export type { CannedAnswer } from "./canned-answer.js";
export type {
  CertificateAuthority,
  IssueCertificateOptions,
  IssuedCertificate,
} from "./certificate-authority.js";
export { createCertificateAuthority } from "./certificate-authority.js";
export type { TrustedCertificateSubject } from "./certificate-chain.js";
export type {
  EntraApp,
  EntraConfig,
  EntraEmulator,
  EntraRequestRecord,
  EntraTenant,
} from "./entra.js";
export { startEntra } from "./entra.js";
export type { EntraErrorBody, EntraErrorName } from "./entra-errors.js";
export type { Fault, QueuedFault } from "./faults.js";
export { FaultQueue } from "./faults.js";
export type { FederatedCredential } from "./federated-assertion.js";
export type {
  GcpInstance,
  GcpMetadataConfig,
  GcpMetadataRequestRecord,
  GcpMetadataServer,
  GcpServiceAccount,
  MetadataFault,
} from "./gcp-metadata.js";
export { startGcpMetadata } from "./gcp-metadata.js";
export type {
  GitHubActionsJob,
  GitHubActionsOptions,
  GitHubActionsRequestRecord,
  GitHubActionsTokenService,
} from "./github-actions.js";
export { startGitHubActions } from "./github-actions.js";
export type { Handler, ListenOptions, RunningServer } from "./http.js";
export type {
  IdentityBindingProxy,
  IdentityBindingProxyOptions,
  IdentityBindingProxyRecord,
} from "./identity-binding-proxy.js";
export { startIdentityBindingProxy } from "./identity-binding-proxy.js";
export type {
  IdentityEndpointFault,
  ImdsConfig,
  ImdsRequestRecord,
  ImdsServer,
  ManagedIdentity,
} from "./imds.js";
export { startImds } from "./imds.js";
export type { IssuerConfig, MintOptions, OidcIssuer } from "./issuer.js";
export { startIssuer } from "./issuer.js";
export type { SigningKey } from "./keys.js";
export { createSigningKey } from "./keys.js";
export type {
  Kubeconfig,
  KubeconfigOptions,
  KubernetesAllowList,
  KubernetesApi,
  KubernetesCaller,
  KubernetesFault,
  KubernetesOptions,
  KubernetesPod,
  KubernetesRequestRecord,
  KubernetesServiceAccount,
  MintServiceAccountTokenOptions,
} from "./kubernetes.js";
export { startKubernetes } from "./kubernetes.js";
export type { Lab, LabConfig, LabEnvironment } from "./lab.js";
export { startLab } from "./lab.js";
export type {
  ProjectedToken,
  ProjectedVolume,
  ProjectedVolumeOptions,
  ServiceAccountTokenProjection,
} from "./projected-volume.js";
export { startProjectedVolume } from "./projected-volume.js";
export type { ProtectedResource, ResourceCaller, ResourceConfig } from "./resource.js";
export { startResource } from "./resource.js";
export type { SelfSignedCertificate } from "./self-signed-certificate.js";
export { createSelfSignedCertificate } from "./self-signed-certificate.js";
export type { SignedRequest, SigV4Failure, SigV4Options, SigV4Success } from "./sigv4.js";
export { verifySigV4 } from "./sigv4.js";
export type { TlsAuthority } from "./tls.js";
export { createTlsAuthority } from "./tls.js";
