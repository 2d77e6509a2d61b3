import type { JwtClaims } from "@fedcred/core";
import { FIC_CODES, IDENTITY_BINDING_AUDIENCE } from "./entra-rules.js";
import { audiencesOf } from "./jwt.js";

/** The fields of a federated identity credential to compare a token with; any may be left out. */
export interface FicFields {
  issuer?: string | undefined;
  subject?: string | undefined;
  audience?: string | undefined;
}

/** One field of the comparison. */
export interface FieldComparison {
  field: "issuer" | "audience" | "subject";
  /** The FIC's value. */
  expected: string;
  /** The token's value (`aud` may be a list). */
  actual: string | string[] | null;
  match: boolean;
  /** The AADSTS code Entra answers when this field is the first that fails. */
  aadsts?: number;
  /** Why it fails, when it is close: letter case, a trailing slash, whitespace. */
  reason?: string;
}

/** The verdict: Entra matches issuer, then audience, then subject, each exactly and case-sensitively. */
export interface FicComparison {
  match: boolean;
  /** What Entra answers: the code of the first field that fails. */
  aadsts?: number;
  fields: FieldComparison[];
}

function nearMiss(expected: string, actual: string): string | undefined {
  if (expected.toLowerCase() === actual.toLowerCase()) return "differs only in letter case";
  if (expected.replace(/\/+$/, "") === actual.replace(/\/+$/, "")) {
    return "differs only by a trailing slash";
  }
  if (expected.trim() === actual.trim()) return "differs only by leading or trailing whitespace";
  return undefined;
}

function compareString(
  field: "issuer" | "subject",
  expected: string,
  actual: unknown,
): FieldComparison {
  const value = typeof actual === "string" ? actual : null;
  if (value === expected) return { field, expected, actual: value, match: true };
  const reason =
    value === null
      ? `the token has no ${field === "issuer" ? "iss" : "sub"}`
      : nearMiss(expected, value);
  const caseOnly = field === "subject" && reason === "differs only in letter case";
  return {
    field,
    expected,
    actual: value,
    match: false,
    aadsts: caseOnly ? FIC_CODES.subjectCase : FIC_CODES[field],
    ...(reason === undefined ? {} : { reason }),
  };
}

function compareAudience(expected: string, claims: JwtClaims): FieldComparison {
  const audiences = audiencesOf(claims);
  const actual = Array.isArray(claims.aud) ? audiences : (audiences[0] ?? null);
  if (audiences.includes(expected)) return { field: "audience", expected, actual, match: true };
  let reason: string | undefined;
  if (audiences.length === 0) reason = "the token has no aud";
  else if (audiences.includes(IDENTITY_BINDING_AUDIENCE)) {
    reason = `the token is for an AKS identity binding (${IDENTITY_BINDING_AUDIENCE}): send its token requests through the cluster's token proxy`;
  } else reason = audiences.map((audience) => nearMiss(expected, audience)).find(Boolean);
  return {
    field: "audience",
    expected,
    actual,
    match: false,
    aadsts: FIC_CODES.audience,
    ...(reason === undefined ? {} : { reason }),
  };
}

/**
 * Compares a token's `iss`, `aud` and `sub` with a federated identity credential as Entra does:
 * exactly and case-sensitively, issuer first (AADSTS700211), then audience (700212), then
 * subject (700213; 7002138 when only the letter case differs). Only the fields given are compared.
 */
export function compareWithFic(claims: JwtClaims, fic: FicFields): FicComparison {
  const fields: FieldComparison[] = [];
  if (fic.issuer !== undefined) fields.push(compareString("issuer", fic.issuer, claims.iss));
  if (fic.audience !== undefined) fields.push(compareAudience(fic.audience, claims));
  if (fic.subject !== undefined) fields.push(compareString("subject", fic.subject, claims.sub));
  const failed = fields.find((field) => !field.match);
  return failed?.aadsts === undefined
    ? { match: failed === undefined, fields }
    : { match: false, aadsts: failed.aadsts, fields };
}
