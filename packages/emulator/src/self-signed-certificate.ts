import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { toPem } from "./tls.js";

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
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex"),
    name: `CN=${options.commonName ?? "fedcred emulator app"}`,
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * 24 * 3600_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const der = Buffer.from(certificate.rawData);
  return {
    certificatePem: `${certificate.toString("pem")}\n`,
    privateKeyPem: toPem(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY"),
    x5tS256: createHash("sha256").update(der).digest("base64url"),
    x5t: createHash("sha1").update(der).digest("base64url"),
  };
}
