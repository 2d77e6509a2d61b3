import "reflect-metadata";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { ProtectedHeaderParameters } from "jose";
import { type EntraRefusal, refusals } from "./entra-errors.js";

/**
 * A subject name and issuer an app trusts instead of a registered certificate (subject name +
 * issuer authentication): an assertion is accepted when its `x5c` header carries a certificate
 * with this subject, first, that chains to this CA.
 *
 * @example
 * ```ts
 * const trusted: TrustedCertificateSubject = {
 *   subject: "CN=billing.contoso.com, O=Contoso",
 *   caCertificate: authority.caCertificate,
 * };
 * ```
 */
export interface TrustedCertificateSubject {
  /** The subject DN of the certificate, compared attribute by attribute: `CN=billing.contoso.com, O=Contoso`. */
  subject: string;
  /** PEM of the CA that must issue the chain: a root, or an intermediate. */
  caCertificate: string;
}

/** A {@link TrustedCertificateSubject}, parsed once. */
export interface ResolvedTrustedSubject {
  /** The subject DN in one canonical form. */
  subject: string;
  ca: x509.X509Certificate;
}

/** The key an assertion verified through a trusted chain is checked with. */
export interface ChainSigner {
  publicKey: KeyObject;
  /** Upper-case hex SHA-1 of the leaf, as Entra prints it. */
  thumbprintHex: string;
}

/** A DN in one form: attribute types upper case (`cn=x,o=y` is `CN=x, O=y`), as @peculiar/x509 prints it. */
function canonicalName(name: string): string {
  const upperTypes = name.replace(
    /(^|,|\+)\s*([A-Za-z][A-Za-z0-9-]*)\s*=/g,
    (_match, separator: string, type: string) => `${separator}${type.toUpperCase()}=`,
  );
  return new x509.Name(upperTypes).toString();
}

/**
 * Parses a trusted subject of an app registration.
 *
 * @example
 * ```ts
 * const resolved = resolveTrustedSubject({ subject: "CN=billing", caCertificate });
 * ```
 */
export function resolveTrustedSubject(trusted: TrustedCertificateSubject): ResolvedTrustedSubject {
  return {
    subject: canonicalName(trusted.subject),
    ca: new x509.X509Certificate(trusted.caCertificate),
  };
}

function withinValidity(certificate: x509.X509Certificate, now: Date): boolean {
  return certificate.notBefore <= now && now <= certificate.notAfter;
}

function isCa(certificate: x509.X509Certificate): boolean {
  return certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

async function issued(child: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (child.issuer !== issuer.subject) return false;
  try {
    return await child.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/** Whether `chain` (leaf first) leads, certificate by certificate, to `ca`, every link valid now. */
async function chainsTo(
  chain: x509.X509Certificate[],
  ca: x509.X509Certificate,
  now: Date,
): Promise<boolean> {
  if (!withinValidity(ca, now)) return false;
  for (let index = 0; index < chain.length; index++) {
    const certificate = chain[index] as x509.X509Certificate;
    if (!withinValidity(certificate, now)) return false;
    if (await issued(certificate, ca)) return true;
    const next = chain[index + 1];
    if (next === undefined || !isCa(next) || !(await issued(certificate, next))) return false;
  }
  return false;
}

/**
 * Finds the key of an assertion that names no registered certificate, through subject name +
 * issuer trust, as Entra does: the `x5c` header must be there, its first certificate must be
 * the one the thumbprint header names, have a trusted subject, and chain (signatures and
 * validity checked) to that subject's CA. Answers the leaf's key, or the refusal (AADSTS700027
 * without `x5c` or with a chain that is not trusted).
 *
 * @example
 * ```ts
 * const signer = await trustedChainSigner(header, app.trustedCertificateSubjects, clientId, thumbprint);
 * ```
 */
export async function trustedChainSigner(
  header: ProtectedHeaderParameters,
  trustedSubjects: readonly ResolvedTrustedSubject[],
  clientId: string,
  displayedThumbprint: string,
): Promise<ChainSigner | EntraRefusal> {
  if (trustedSubjects.length === 0 || header.x5c === undefined) {
    return refusals.keyNotFound(displayedThumbprint, clientId);
  }
  if (
    !Array.isArray(header.x5c) ||
    header.x5c.length === 0 ||
    !header.x5c.every((value) => typeof value === "string")
  ) {
    return refusals.malformedAssertion();
  }
  let chain: x509.X509Certificate[];
  try {
    chain = header.x5c.map((value) => new x509.X509Certificate(Buffer.from(value, "base64")));
  } catch {
    return refusals.malformedAssertion();
  }
  const leaf = chain[0] as x509.X509Certificate;
  const der = Buffer.from(leaf.rawData);
  const s256 = header["x5t#S256"];
  const named =
    typeof s256 === "string"
      ? createHash("sha256").update(der).digest("base64url") === s256
      : createHash("sha1").update(der).digest("base64url") === header.x5t;
  const thumbprintHex = createHash("sha1").update(der).digest("hex").toUpperCase();
  if (!named) return refusals.keyNotFound(displayedThumbprint, clientId);
  const subject = canonicalName(leaf.subject);
  const candidates = trustedSubjects.filter((trusted) => trusted.subject === subject);
  if (candidates.length === 0) return refusals.keyNotFound(displayedThumbprint, clientId);
  const now = new Date();
  for (const trusted of candidates) {
    if (await chainsTo(chain, trusted.ca, now)) {
      return {
        publicKey: createPublicKey({
          key: Buffer.from(leaf.publicKey.rawData),
          format: "der",
          type: "spki",
        }),
        thumbprintHex,
      };
    }
  }
  return refusals.untrustedChain(thumbprintHex);
}
