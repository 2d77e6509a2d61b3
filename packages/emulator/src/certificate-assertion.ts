import "reflect-metadata";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { compactVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { type ResolvedTrustedSubject, trustedChainSigner } from "./certificate-chain.js";
import { type EntraRefusal, refusals } from "./entra-errors.js";

/** A certificate registered on an app, with the thumbprints an assertion header may name. */
export interface RegisteredCertificate {
  /** base64url SHA-1 of the DER certificate: the `x5t` header. */
  readonly x5t: string;
  /** base64url SHA-256 of the DER certificate: the `x5t#S256` header. */
  readonly x5tS256: string;
  /** Upper-case hex SHA-1, the form Entra prints in its errors. */
  readonly thumbprintHex: string;
  readonly notAfter: Date;
  readonly publicKey: KeyObject;
}

/**
 * The thumbprints of a DER certificate as assertion headers carry them: `x5t` (SHA-1) and
 * `x5t#S256` (SHA-256), base64url.
 *
 * @example
 * ```ts
 * const { x5tS256 } = thumbprints(Buffer.from(certificate.rawData));
 * ```
 */
export function thumbprints(der: Buffer): { x5t: string; x5tS256: string } {
  return {
    x5t: createHash("sha1").update(der).digest("base64url"),
    x5tS256: createHash("sha256").update(der).digest("base64url"),
  };
}

/**
 * Parses a PEM certificate into what the token endpoint needs to recognise assertions signed
 * with its key.
 *
 * @example
 * ```ts
 * const registered = registerCertificate(certificatePem);
 * registered.x5tS256; // base64url SHA-256 thumbprint
 * ```
 */
export function registerCertificate(pem: string): RegisteredCertificate {
  const certificate = new x509.X509Certificate(pem);
  const der = Buffer.from(certificate.rawData);
  return {
    ...thumbprints(der),
    thumbprintHex: createHash("sha1").update(der).digest("hex").toUpperCase(),
    notAfter: certificate.notAfter,
    publicKey: createPublicKey({
      key: Buffer.from(certificate.publicKey.rawData),
      format: "der",
      type: "spki",
    }),
  };
}

/** What {@link checkCertificateAssertion} needs: the assertion, decoded, and the app it claims to be. */
export interface CertificateAssertionCheck {
  assertion: string;
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
  clientId: string;
  certificates: readonly RegisteredCertificate[];
  /** Subject names and issuers the app trusts (subject name + issuer authentication). */
  trustedSubjects?: readonly ResolvedTrustedSubject[];
  /** The URL the assertion was posted to: its `aud` must be exactly this. */
  tokenEndpoint: string;
}

const SUPPORTED_ALGORITHMS = new Set(["PS256", "RS256"]);

function thumbprintForDisplay(header: ProtectedHeaderParameters): string {
  const named = (header["x5t#S256"] ?? header.x5t) as string | undefined;
  return typeof named === "string"
    ? Buffer.from(named, "base64url").toString("hex").toUpperCase()
    : "";
}

/**
 * Checks a certificate client assertion as Entra does: the certificate named by `x5t#S256` or
 * `x5t` must be registered on the app and unexpired, or (subject name + issuer trust) be the
 * first of an `x5c` chain to a CA the app trusts for its subject; the signature must verify
 * (PS256 or RS256), `iss` and `sub` must be the client id, `aud` the token endpoint called, and
 * `jti` present.
 *
 * @example
 * ```ts
 * const refusal = await checkCertificateAssertion({ assertion, header, payload, clientId, certificates, tokenEndpoint });
 * ```
 */
export async function checkCertificateAssertion(
  check: CertificateAssertionCheck,
): Promise<EntraRefusal | undefined> {
  const { assertion, header, payload, clientId, certificates, tokenEndpoint } = check;
  const s256 = header["x5t#S256"];
  const sha1 = header.x5t;
  const certificate = certificates.find((candidate) =>
    typeof s256 === "string" ? candidate.x5tS256 === s256 : candidate.x5t === sha1,
  );
  let signer: { publicKey: KeyObject; thumbprintHex: string };
  if (certificate) {
    if (certificate.notAfter.getTime() < Date.now()) {
      return refusals.keyExpired(certificate.thumbprintHex);
    }
    signer = certificate;
  } else {
    const trusted = await trustedChainSigner(
      header,
      check.trustedSubjects ?? [],
      clientId,
      thumbprintForDisplay(header),
    );
    if ("code" in trusted) return trusted;
    signer = trusted;
  }
  if (!header.alg || !SUPPORTED_ALGORITHMS.has(header.alg)) return refusals.unsupportedAlgorithm();
  try {
    await compactVerify(assertion, signer.publicKey, { algorithms: [header.alg] });
  } catch {
    return refusals.badSignature(signer.thumbprintHex);
  }
  if (payload.iss !== clientId || payload.sub !== clientId) return refusals.clientIdMismatch();
  // A list of audiences is refused as malformed; a single wrong one as the wrong realm.
  if (typeof payload.aud !== "string") return refusals.malformedAssertion();
  if (payload.aud !== tokenEndpoint) return refusals.audienceNotRealm();
  if (typeof payload.jti !== "string" || payload.jti.length === 0)
    return refusals.malformedAssertion();
  return undefined;
}
