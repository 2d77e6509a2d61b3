import { ClientAssertionCredential, type ClientAssertionCredentialOptions } from "@fedcred/core";
import { type FromCertificateOptions, fromCertificate } from "./from-certificate.js";

/**
 * Options of {@link certificateCredential}: the certificate options of {@link fromCertificate}
 * and the credential options of `@fedcred/core`'s `ClientAssertionCredential`, together.
 *
 * @example
 * ```ts
 * import type { CertificateCredentialOptions } from "@fedcred/certificate";
 *
 * const options: CertificateCredentialOptions = {
 *   certificatePath: "/etc/billing/cert.pem",
 *   sendCertificateChain: true,
 *   authorityHost: "https://login.microsoftonline.us",
 * };
 * ```
 */
export type CertificateCredentialOptions = FromCertificateOptions &
  ClientAssertionCredentialOptions;

/** The options that are {@link fromCertificate}'s; the others go to the credential. */
const CERTIFICATE_OPTIONS = [
  "certificatePath",
  "certificate",
  "privateKey",
  "password",
  "certificatePassword",
  "algorithm",
  "sendCertificateChain",
  "lifetimeSeconds",
] as const satisfies readonly (keyof FromCertificateOptions)[];

/**
 * The ready credential for an app that authenticates with a certificate: a
 * `ClientAssertionCredential` of `@fedcred/core` over {@link fromCertificate}, taking the
 * certificate options and the credential options together. A drop-in for `@azure/identity`'s
 * `ClientCertificateCredential`, usable by every Azure SDK client. Its AADSTS700027 errors say
 * which certificate (thumbprints, `x5c`, subject, validity) the assertion named.
 *
 * @throws {@link CredentialUnavailableError} at once, as {@link fromCertificate} and the
 *   credential's constructor do, naming the option that is wrong.
 *
 * @example
 * ```ts
 * import { certificateCredential } from "@fedcred/certificate";
 * import { SecretClient } from "@azure/keyvault-secrets";
 *
 * const credential = certificateCredential(tenantId, clientId, {
 *   certificatePath: "/etc/billing/cert.pfx",
 *   password: process.env.CERT_PASSWORD,
 * });
 * const secrets = new SecretClient("https://vault-name.vault.azure.net", credential);
 * ```
 */
export function certificateCredential(
  tenantId: string,
  clientId: string,
  options: CertificateCredentialOptions = {},
): ClientAssertionCredential {
  const credentialOptions: Record<string, unknown> = { ...options };
  const certificateOptions: Record<string, unknown> = {};
  for (const name of CERTIFICATE_OPTIONS) {
    certificateOptions[name] = credentialOptions[name];
    delete credentialOptions[name];
  }
  return new ClientAssertionCredential(
    tenantId,
    clientId,
    fromCertificate(certificateOptions),
    credentialOptions as ClientAssertionCredentialOptions,
  );
}
