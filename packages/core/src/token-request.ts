import { CredentialUnavailableError } from "./errors.js";

/** The client-assertion type Entra ID expects for JWT assertions. */
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const CAE_CLAIMS = { access_token: { xms_cc: { values: ["cp1"] } } };

/** A token request, ready to post. */
export interface TokenRequest {
  url: string;
  body: string;
}

/** Everything the token request body is made of. */
export interface TokenRequestParameters {
  tokenEndpoint: string;
  clientId: string;
  scopes: readonly string[];
  assertion: string;
  /** The `claims` parameter as sent: see {@link buildClaims}. */
  claims?: string | undefined;
}

/** The token endpoint of a tenant: `{authorityHost}/{tenantId}/oauth2/v2.0/token`. */
export function tokenEndpointFor(authorityHost: string, tenantId: string): string {
  return `${authorityHost}/${tenantId}/oauth2/v2.0/token`;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sets an own property, whatever its name: `merged.__proto__ = value` would change the prototype. */
function setOwn(object: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function mergeClaims(target: JsonObject, source: JsonObject): JsonObject {
  const merged: JsonObject = {};
  for (const [key, value] of Object.entries(target)) setOwn(merged, key, value);
  for (const [key, value] of Object.entries(source)) {
    // Own properties only: a claim named like an Object.prototype member is just a claim.
    const existing = Object.hasOwn(merged, key) ? merged[key] : undefined;
    if (key === "values" && Array.isArray(existing) && Array.isArray(value)) {
      setOwn(merged, key, [...new Set([...existing, ...value])]);
    } else if (isObject(existing) && isObject(value)) {
      setOwn(merged, key, mergeClaims(existing, value));
    } else {
      setOwn(merged, key, value);
    }
  }
  return merged;
}

/** The `claims` parameter: the caller's claims, merged with the CAE capability when asked. */
export function buildClaims(
  claims: string | undefined,
  enableCae: boolean | undefined,
): string | undefined {
  let parsed: JsonObject | undefined;
  if (claims !== undefined && claims !== "") {
    try {
      const value: unknown = JSON.parse(claims);
      if (!isObject(value)) throw new Error("not an object");
      parsed = value;
    } catch {
      throw new CredentialUnavailableError(
        "options.claims is not a JSON object: pass the decoded claims of the challenge.",
        "invalid_configuration",
      );
    }
  }
  if (!enableCae) return parsed === undefined ? undefined : claims;
  return JSON.stringify(parsed === undefined ? CAE_CLAIMS : mergeClaims(CAE_CLAIMS, parsed));
}

/** Builds the form-encoded client-credentials request with a JWT client assertion. */
export function buildTokenRequest(parameters: TokenRequestParameters): TokenRequest {
  const form = new URLSearchParams({
    client_id: parameters.clientId,
    scope: parameters.scopes.join(" "),
    grant_type: "client_credentials",
    client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
    client_assertion: parameters.assertion,
  });
  if (parameters.claims !== undefined) form.set("claims", parameters.claims);
  return { url: parameters.tokenEndpoint, body: form.toString() };
}
