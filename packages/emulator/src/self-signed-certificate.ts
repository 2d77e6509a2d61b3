import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { thumbprints } from "./certificate-assertion.js";
import { RSA_SIGNING, toPem } from "./tls.js";

/**
 * A certificate and its private key, as an app registration's key credential uses them.
 *
 * @example
 * ```ts
 * const certificate: SelfSignedCertificate = await createSelfSignedCertificate();
 * entra.addApp(tenantId, { clientId, certificates: [certificate.certificatePem] });
 * ```
 */
export interface SelfSignedCertificate {
  /** PEM of the certificate: register it on the app. */
  readonly certificatePem: string;
  /** PEM (PKCS#8) of the RSA private key: sign client assertions with it. */
  readonly privateKeyPem: string;
  /** base64url SHA-256 thumbprint of the DER certificate: the `x5t#S256` header. */
  readonly x5tS256: string;
  /** base64url SHA-1 thumbprint of the DER certificate: the `x5t` header. */
  readonly x5t: string;
}

/**
 * Generates a self-signed RSA 2048 certificate and key for certificate client assertions.
 *
 * @example
 * ```ts
 * const { certificatePem, privateKeyPem, x5tS256 } = await createSelfSignedCertificate({ commonName: "billing" });
 * ```
 */
export async function createSelfSignedCertificate(
  options: { commonName?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<SelfSignedCertificate> {
  const keys = (await webcrypto.subtle.generateKey(RSA_SIGNING, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex"),
    name: `CN=${options.commonName ?? "fedcred emulator app"}`,
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * 24 * 3600_000),
    keys,
    signingAlgorithm: RSA_SIGNING,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return {
    certificatePem: `${certificate.toString("pem")}\n`,
    privateKeyPem: toPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
    ...thumbprints(Buffer.from(certificate.rawData)),
  };
}
