import { decodeJwtPayload, type JwtClaims } from "@fedcred/core";

/** A JWT's header and claims, decoded, not verified. The signature is dropped. */
export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: JwtClaims;
}

/**
 * Decodes a compact JWT. The payload goes through core's `decodeJwtPayload` (which refuses
 * anything else with a `FedcredError` that never quotes the value); the header, which core
 * checks but does not return, is read here.
 */
export function decodeJwt(token: string): DecodedJwt {
  const claims = decodeJwtPayload(token);
  const header: unknown = JSON.parse(
    Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"),
  );
  return {
    header:
      typeof header === "object" && header !== null ? (header as Record<string, unknown>) : {},
    claims,
  };
}

/** `aud` as a list (it may be one string or several). */
export function audiencesOf(claims: JwtClaims): string[] {
  const { aud } = claims;
  if (Array.isArray(aud)) return aud.filter((value): value is string => typeof value === "string");
  return typeof aud === "string" ? [aud] : [];
}

/**
 * The token inside what a person pastes or pipes: a compact JWT, `Bearer <jwt>`, or the JSON of
 * `fedcred token` / `az account get-access-token` (`accessToken`), or a token endpoint's answer
 * (`access_token`).
 */
export function extractToken(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      const document = JSON.parse(trimmed) as Record<string, unknown>;
      for (const field of ["accessToken", "access_token", "token"]) {
        const value = document[field];
        if (typeof value === "string") return value.trim();
      }
    } catch {
      // Not JSON after all: decoding says what it is not.
    }
  }
  return trimmed.replace(/^Bearer\s+/i, "");
}

/** Whether a command-line argument looks like a pasted token rather than a file name. */
export function looksLikeJwt(value: string): boolean {
  return /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/.test(value.trim());
}
