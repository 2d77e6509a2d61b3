import { createHash, type X509Certificate } from "node:crypto";
import { displayName, hex } from "./certificate-material.js";

/**
 * What a {@link fromCertificate} provider signs with, for comparing with the app registration.
 * It holds nothing secret: no key, no password.
 *
 * @example
 * ```ts
 * import { fromCertificate } from "@fedcred/certificate";
 *
 * const { certificate } = fromCertificate({ certificatePath: "/etc/app/cert.pem" });
 * console.log(certificate.thumbprintSha1, certificate.notAfter); // the portal's Thumbprint and Expires
 * ```
 */
export interface CertificateDescription {
  /** The certificate's subject, on one line: `CN=billing, O=Contoso`. */
  readonly subject: string;
  /** Its issuer, on one line. */
  readonly issuer: string;
  /** Valid from, ISO 8601. */
  readonly notBefore: string;
  /** Valid until, ISO 8601. */
  readonly notAfter: string;
  /** SHA-1 of the DER certificate, upper-case hex: the Thumbprint the portal and `az ad app credential list` show. */
  readonly thumbprintSha1: string;
  /** SHA-256 of the DER certificate, upper-case hex. */
  readonly thumbprintSha256: string;
  /** `PS256` (header `x5t#S256`) or `RS256` (header `x5t`). */
  readonly algorithm: "PS256" | "RS256";
  /** The header that names the certificate, and its value (base64url of the thumbprint). */
  readonly thumbprintHeader: { readonly name: "x5t#S256" | "x5t"; readonly value: string };
  /** How many certificates `x5c` carries (leaf first), or 0 when it is not sent. */
  readonly x5cLength: number;
}

/** The description of `certificate` as signed with `algorithm`, frozen. */
export function describeCertificate(
  certificate: X509Certificate,
  algorithm: "PS256" | "RS256",
  x5cLength: number,
): CertificateDescription {
  const der = certificate.raw;
  return Object.freeze({
    subject: displayName(certificate.subject),
    issuer: displayName(certificate.issuer),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
    thumbprintSha1: hex(certificate.fingerprint),
    thumbprintSha256: hex(certificate.fingerprint256),
    algorithm,
    thumbprintHeader: Object.freeze(
      algorithm === "PS256"
        ? { name: "x5t#S256" as const, value: createHash("sha256").update(der).digest("base64url") }
        : { name: "x5t" as const, value: createHash("sha1").update(der).digest("base64url") },
    ),
    x5cLength,
  });
}

/**
 * What a refused certificate assertion carried, for a 700027 message: the thumbprints sent,
 * whether `x5c` was, and the certificate's subject and validity.
 */
export function describeSentCertificate(description: CertificateDescription): string {
  const { thumbprintHeader } = description;
  const x5c =
    description.x5cLength > 0
      ? `and x5c with ${description.x5cLength === 1 ? "the certificate alone" : `${description.x5cLength} certificates, leaf first`} (sendCertificateChain)`
      : "and no x5c (sendCertificateChain is off: an app that trusts a subject name and issuer needs it on)";
  return `The assertion was signed ${description.algorithm} and named the certificate by ${thumbprintHeader.name} ${thumbprintHeader.value} (SHA-1 thumbprint ${description.thumbprintSha1}, the one the portal lists; SHA-256 ${description.thumbprintSha256}), ${x5c}. The certificate: subject ${description.subject}, issuer ${description.issuer}, valid from ${description.notBefore} to ${description.notAfter}. Compare with the app registration's Certificates & secrets (az ad app credential list --id <client id> --cert).`;
}
