import { compactVerify, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import { type EntraRefusal, refusals } from "./entra-errors.js";
import type { IssuerKeyCache } from "./issuer-key-cache.js";

/**
 * A federated identity credential of an app registration.
 *
 * @example
 * ```ts
 * const credential: FederatedCredential = {
 *   issuer: kubernetes.issuer,
 *   subject: "system:serviceaccount:prod:billing",
 *   audiences: ["api://AzureADTokenExchange"],
 * };
 * ```
 */
export interface FederatedCredential {
  /** The issuer the assertion's `iss` must equal, exactly. */
  issuer: string;
  /** The subject the assertion's `sub` must equal, exactly and case-sensitively. */
  subject: string;
  /** Audiences the assertion's `aud` may name; usually `["api://AzureADTokenExchange"]`. */
  audiences: string[];
  /** A display name, as in the portal. */
  name?: string;
}

/** What {@link checkFederatedAssertion} needs: the assertion, decoded, and the app it claims to be. */
export interface FederatedAssertionCheck {
  assertion: string;
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
  clientId: string;
  credentials: readonly FederatedCredential[];
  keys: IssuerKeyCache;
}

// Entra verifies workload tokens signed with RSA keys; the AWS STS docs say to pick RS256 for it.
const SUPPORTED_ALGORITHMS = new Set(["RS256"]);
/**
 * 1 day 1 hour: Entra refuses external tokens that live longer (AADSTS70023, "must have a
 * lifetime of less than or equal to 1.01:00:00. Token issued at {iat}. Token expires on {exp}.").
 */
const MAX_EXTERNAL_TOKEN_LIFETIME_SECONDS = 25 * 3600;

function audiencesOf(payload: JWTPayload): string[] {
  if (typeof payload.aud === "string") return [payload.aud];
  if (Array.isArray(payload.aud)) return payload.aud.filter((value) => typeof value === "string");
  return [];
}

/**
 * Checks a federated client assertion the way Entra does: a lifetime (`exp - iat`) of at most
 * 1 day 1 hour, then find the app's federated credentials by issuer, then audience, then subject
 * (exact, case-sensitive), then verify the signature with the issuer's published key. Answers the refusal, or `undefined` when the assertion is good.
 *
 * @example
 * ```ts
 * const refusal = await checkFederatedAssertion({ assertion, header, payload, clientId, credentials, keys });
 * ```
 */
export async function checkFederatedAssertion(
  check: FederatedAssertionCheck,
): Promise<EntraRefusal | undefined> {
  const { assertion, header, payload, clientId, credentials, keys } = check;
  const issuer = typeof payload.iss === "string" ? payload.iss : "";
  const subject = typeof payload.sub === "string" ? payload.sub : "";
  const audiences = audiencesOf(payload);
  if (!issuer || !subject || audiences.length === 0) return refusals.malformedAssertion();
  // Entra's text measures the lifetime from `iat`; a token without one is measured from `nbf`.
  const issuedAt = typeof payload.iat === "number" ? payload.iat : payload.nbf;
  if (
    typeof issuedAt === "number" &&
    typeof payload.exp === "number" &&
    payload.exp - issuedAt > MAX_EXTERNAL_TOKEN_LIFETIME_SECONDS
  ) {
    return refusals.externalTokenTooLong(issuedAt, payload.exp);
  }

  const byIssuer = credentials.filter((credential) => credential.issuer === issuer);
  if (byIssuer.length === 0) return refusals.noIssuerMatch(issuer);
  const byAudience = byIssuer.filter((credential) =>
    credential.audiences.some((audience) => audiences.includes(audience)),
  );
  if (byAudience.length === 0) return refusals.noAudienceMatch(audiences.join(", "));
  if (!byAudience.some((credential) => credential.subject === subject)) {
    const lower = subject.toLowerCase();
    return byAudience.some((credential) => credential.subject.toLowerCase() === lower)
      ? refusals.subjectCaseMismatch(subject)
      : refusals.noSubjectMatch(subject);
  }

  if (!header.alg || !SUPPORTED_ALGORITHMS.has(header.alg)) return refusals.unsupportedAlgorithm();
  let key: Awaited<ReturnType<IssuerKeyCache["getKey"]>>;
  try {
    key = await keys.getKey(issuer, header.kid, header.alg);
  } catch {
    return refusals.issuerUnreachable();
  }
  if (!key) return refusals.keyNotFound(header.kid ?? "", clientId);
  try {
    await compactVerify(assertion, key, { algorithms: [header.alg] });
  } catch {
    return refusals.badSignature(header.kid ?? "");
  }
  return undefined;
}
