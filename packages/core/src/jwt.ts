import { FedcredError } from "./errors.js";
import { describeValue, plural } from "./text.js";

/**
 * The registered claims of a JWT that fedcred reads, plus any others.
 *
 * @example
 * ```ts
 * import type { JwtClaims } from "@fedcred/core";
 *
 * const claims: JwtClaims = { iss: "https://issuer.example", sub: "system:serviceaccount:prod:billing" };
 * ```
 */
export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

function decodeSegment(segment: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error("not base64url");
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
}

function notAJwt(message: string): FedcredError {
  return new FedcredError(message, "invalid_jwt");
}

/**
 * Decodes the payload of a compact JWT without verifying it (Entra verifies). Throws a
 * `FedcredError` with code `invalid_jwt`, whose message never quotes the value, when the value
 * is not a JWT.
 *
 * @example
 * ```ts
 * import { decodeJwtPayload } from "@fedcred/core";
 *
 * const { iss, sub, exp } = decodeJwtPayload(assertion);
 * ```
 */
export function decodeJwtPayload(token: string): JwtClaims {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3 && parts.length !== 5) {
    throw notAJwt(
      `The value is not a compact JWT: expected three dot-separated parts, got ${typeof token === "string" ? plural(parts.length, "part") : describeValue(token)}.`,
    );
  }
  let payload: unknown;
  try {
    decodeSegment(parts[0]!);
    payload = decodeSegment(parts[1]!);
  } catch {
    throw notAJwt("The value is not a JWT: its header or payload is not base64url JSON.");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw notAJwt("The JWT payload is not a JSON object.");
  }
  return payload as JwtClaims;
}

/** Decodes the payload, or returns `undefined` when the value is not a JWT. */
export function tryDecodeJwtPayload(token: string): JwtClaims | undefined {
  try {
    return decodeJwtPayload(token);
  } catch {
    return undefined;
  }
}
