export {
  type CertificateCredentialOptions,
  certificateCredential,
} from "./certificate-credential.js";
export type { CertificateDescription } from "./certificate-description.js";
export {
  AZURE_CLIENT_CERTIFICATE_PASSWORD,
  AZURE_CLIENT_CERTIFICATE_PATH,
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
} from "./environment.js";
export {
  type CertificateAssertionFunc,
  type FromCertificateOptions,
  fromCertificate,
} from "./from-certificate.js";
