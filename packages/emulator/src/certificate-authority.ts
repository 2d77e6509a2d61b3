import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { thumbprints } from "./certificate-assertion.js";
import type { SelfSignedCertificate } from "./self-signed-certificate.js";
import { RSA_SIGNING, toPem } from "./tls.js";

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * A certificate a {@link CertificateAuthority} issued, with its key: for subject name + issuer
 * trust, send `chainPem` as the assertion's `x5c`.
 *
 * @example
 * ```ts
 * const issued: IssuedCertificate = await authority.issueCertificate({ subject: "CN=billing.contoso.com" });
 * const bundle = issued.chainPem + issued.privateKeyPem;
 * ```
 */
export interface IssuedCertificate extends SelfSignedCertificate {
  /** The certificate's subject, as Entra compares it: `CN=billing.contoso.com, O=Contoso`. */
  readonly subject: string;
  /** PEM of the certificate, then each intermediate CA up to (not including) the root: the `x5c` chain. */
  readonly chainPem: string;
}

/**
 * Options of {@link CertificateAuthority.issueCertificate}.
 *
 * @example
 * ```ts
 * const options: IssueCertificateOptions = { subject: "CN=billing.contoso.com, O=Contoso", notAfter: new Date(Date.now() + 86_400_000) };
 * ```
 */
export interface IssueCertificateOptions {
  /** The subject DN. Default `CN=fedcred emulator app`. */
  subject?: string;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * A certificate authority for subject name + issuer trust: it issues app certificates (and
 * intermediate CAs) whose chains the emulated Entra verifies against `caCertificate`.
 *
 * @example
 * ```ts
 * const authority: CertificateAuthority = await createCertificateAuthority();
 * entra.addApp(tenantId, {
 *   clientId,
 *   trustedCertificateSubjects: [{ subject: "CN=billing.contoso.com", caCertificate: authority.caCertificate }],
 * });
 * ```
 */
export interface CertificateAuthority {
  /** PEM of this CA's certificate: the `caCertificate` of a trusted subject. */
  readonly caCertificate: string;
  /** This CA's subject DN. */
  readonly subject: string;
  /** Issues an RSA 2048 certificate for client assertions, valid for a year unless told otherwise. */
  issueCertificate(options?: IssueCertificateOptions): Promise<IssuedCertificate>;
  /** Issues an intermediate CA; the certificates it issues carry it in their `chainPem`. */
  createIntermediate(options?: { commonName?: string }): Promise<CertificateAuthority>;
}

const DAY_MS = 24 * 3600_000;

function serialNumber(): string {
  // A positive serial: the first byte's top bit clear.
  const bytes = webcrypto.getRandomValues(new Uint8Array(8));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA_SIGNING, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
}

function caExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

function authority(
  certificate: x509.X509Certificate,
  keys: CryptoKeyPair,
  intermediates: readonly string[],
): CertificateAuthority {
  const issue = async (
    subject: string,
    publicKey: webcrypto.CryptoKey,
    extensions: x509.Extension[],
    validity: { notBefore?: Date | undefined; notAfter?: Date | undefined } = {},
  ): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject,
      issuer: certificate.subject,
      notBefore: validity.notBefore ?? new Date(Date.now() - 60_000),
      notAfter: validity.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
      publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: RSA_SIGNING,
      extensions: [
        ...extensions,
        await x509.AuthorityKeyIdentifierExtension.create(certificate, false),
      ],
    });
  return {
    caCertificate: `${certificate.toString("pem")}\n`,
    subject: certificate.subject,
    async issueCertificate(options = {}) {
      const leafKeys = await generateKeys();
      const leaf = await issue(
        options.subject ?? "CN=fedcred emulator app",
        leafKeys.publicKey,
        [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
        options,
      );
      const certificatePem = `${leaf.toString("pem")}\n`;
      return {
        certificatePem,
        privateKeyPem: toPem(
          await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey),
          "PRIVATE KEY",
        ),
        ...thumbprints(Buffer.from(leaf.rawData)),
        subject: leaf.subject,
        chainPem: [certificatePem, ...intermediates].join(""),
      };
    },
    async createIntermediate(options = {}) {
      const intermediateKeys = await generateKeys();
      const intermediate = await issue(
        `CN=${options.commonName ?? "fedcred emulator intermediate CA"}`,
        intermediateKeys.publicKey,
        [
          ...caExtensions(),
          await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
        ],
      );
      return authority(intermediate, intermediateKeys, [
        `${intermediate.toString("pem")}\n`,
        ...intermediates,
      ]);
    },
  };
}

/**
 * Generates a root certificate authority (RSA 2048, valid for a year unless told otherwise) that
 * issues certificates for subject name + issuer trust.
 *
 * @example
 * ```ts
 * const authority = await createCertificateAuthority({ commonName: "Contoso Issuing CA" });
 * const issued = await authority.issueCertificate({ subject: "CN=billing.contoso.com" });
 * ```
 */
export async function createCertificateAuthority(
  options: { commonName?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${options.commonName ?? "fedcred emulator CA"}`,
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    keys,
    signingAlgorithm: RSA_SIGNING,
    extensions: [
      ...caExtensions(),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return authority(certificate, keys, []);
}
