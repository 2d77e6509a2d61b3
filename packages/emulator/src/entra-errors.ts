import { newId } from "./http.js";

/**
 * The OAuth `error` values Entra answers on its token endpoint.
 *
 * @example
 * ```ts
 * const name: EntraErrorName = "invalid_client";
 * ```
 */
export type EntraErrorName =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "invalid_scope"
  | "unsupported_grant_type"
  | "invalid_resource"
  | "temporarily_unavailable";

/** An Entra refusal before it is written: status, OAuth error, AADSTS code and text. */
export interface EntraRefusal {
  readonly status: number;
  readonly error: EntraErrorName;
  readonly code: number;
  readonly message: string;
}

/**
 * The JSON body Entra sends with a refusal.
 *
 * @example
 * ```ts
 * const body = (await response.json()) as EntraErrorBody;
 * body.error_codes; // [700213]
 * ```
 */
export interface EntraErrorBody {
  error: EntraErrorName;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

/** Entra sends `invalid_client` with 401 and every other refusal of this grant with 400. */
function statusOf(error: EntraErrorName): number {
  if (error === "invalid_client") return 401;
  if (error === "temporarily_unavailable") return 503;
  return 400;
}

/**
 * A refusal with Entra's status for its error.
 *
 * @example
 * ```ts
 * const refusal = refuse("unauthorized_client", 700016, "Application with identifier 'x' was not found.");
 * ```
 */
export function refuse(error: EntraErrorName, code: number, message: string): EntraRefusal {
  return { status: statusOf(error), error, code, message };
}

/** `2024-03-01 07:41:07Z`, the form of Entra's `timestamp` field. */
export function entraTimestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** `2024-10-02T22:05:03.6755165Z`, the form of times inside Entra's texts. */
export function entraInstant(date: Date): string {
  return `${date.toISOString().slice(0, 19)}.${String(date.getUTCMilliseconds()).padStart(3, "0")}0000Z`;
}

/**
 * The body Entra writes for `refusal`, with fresh trace id and the caller's correlation id.
 *
 * @example
 * ```ts
 * const body = entraErrorBody(refuse("invalid_scope", 1002012, "..."), request.headers["client-request-id"]);
 * ```
 */
export function entraErrorBody(
  refusal: EntraRefusal,
  correlationId: string = newId(),
): EntraErrorBody {
  const traceId = newId();
  const timestamp = entraTimestamp();
  return {
    error: refusal.error,
    error_description: `AADSTS${refusal.code}: ${refusal.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [refusal.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${refusal.code}`,
  };
}

const FIC_HINT =
  "Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
const CERTIFICATE_DOCS =
  "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

function noFederatedMatch(
  code: number,
  claim: "issuer" | "audience" | "subject",
  value: string,
  detail = "",
): EntraRefusal {
  return refuse(
    "invalid_client",
    code,
    `No matching federated identity record found for presented assertion ${claim} '${value}'. ${detail}${FIC_HINT}`,
  );
}

function signatureFailure(reason: string, thumbprint: string, advice = ""): EntraRefusal {
  return refuse(
    "invalid_client",
    700027,
    `Client assertion failed signature validation. [Reason - ${reason}, Thumbprint of key used by client: '${thumbprint}'${advice}]`,
  );
}

/** The refusals of the client-credentials grant, with the texts Entra uses for them. */
export const refusals = {
  methodNotAllowed: (method: string): EntraRefusal =>
    refuse(
      "invalid_request",
      900561,
      `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`,
    ),
  malformedTenant: (tenant: string): EntraRefusal =>
    refuse(
      "invalid_request",
      900023,
      `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`,
    ),
  tenantNotFound: (tenant: string): EntraRefusal =>
    refuse(
      "invalid_request",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    ),
  missingParameter: (name: string): EntraRefusal =>
    refuse(
      "invalid_request",
      900144,
      `The request body must contain the following parameter: '${name}'.`,
    ),
  unsupportedGrant: (grant: string): EntraRefusal =>
    refuse(
      "unsupported_grant_type",
      70003,
      `The app requested an unsupported grant type '${grant}'.`,
    ),
  duplicatedParameter: (name: string): EntraRefusal =>
    refuse(
      "invalid_request",
      9000411,
      `The request is not properly formatted. The parameter '${name}' is duplicated.`,
    ),
  malformedRequest: (): EntraRefusal =>
    refuse("invalid_request", 9002313, "Invalid request. Request is malformed or invalid."),
  applicationNotFound: (clientId: string, tenant: string): EntraRefusal =>
    refuse(
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  scopeNotDefault: (scope: string): EntraRefusal =>
    refuse(
      "invalid_scope",
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  invalidScope: (scope: string): EntraRefusal =>
    refuse(
      "invalid_scope",
      70011,
      `The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
    ),
  resourceNotFound: (resource: string, tenant: string): EntraRefusal =>
    refuse(
      "invalid_resource",
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  missingCredential: (): EntraRefusal =>
    refuse(
      "invalid_client",
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    ),
  malformedAssertion: (): EntraRefusal =>
    refuse("invalid_request", 50027, "JWT token is invalid or malformed."),
  wrongType: (): EntraRefusal =>
    refuse(
      "invalid_request",
      5002727,
      "Invalid JWT header type specified, must be 'JWT' or 'http://openid.net/specs/jwt/1.0'.",
    ),
  unsupportedAlgorithm: (): EntraRefusal =>
    refuse(
      "invalid_request",
      5002730,
      "Invalid JWT token. Unsupported key for the signing algorithm.",
    ),
  outsideTimeRange: (now: Date, validFrom: Date, expires: Date): EntraRefusal =>
    refuse(
      "invalid_client",
      700024,
      `Client assertion is not within its valid time range. Current time: ${entraInstant(now)}, assertion valid from ${entraInstant(validFrom)}, expiry time of assertion ${entraInstant(expires)}. ${CERTIFICATE_DOCS}`,
    ),
  externalTokenTooLong: (issuedAt: number, expires: number): EntraRefusal =>
    refuse(
      "invalid_request",
      70023,
      `External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00. Token issued at ${issuedAt}. Token expires on ${expires}.`,
    ),
  noIssuerMatch: (issuer: string): EntraRefusal => noFederatedMatch(700211, "issuer", issuer),
  noAudienceMatch: (audience: string): EntraRefusal =>
    noFederatedMatch(700212, "audience", audience),
  noSubjectMatch: (subject: string): EntraRefusal => noFederatedMatch(700213, "subject", subject),
  subjectCaseMismatch: (subject: string): EntraRefusal =>
    noFederatedMatch(
      7002138,
      "subject",
      subject,
      "The subject matches with case-insensitive comparison, but not with case-sensitive comparison. ",
    ),
  issuerUnreachable: (): EntraRefusal =>
    refuse("invalid_request", 501661, "Request to External OIDC endpoint failed."),
  keyNotFound: (thumbprint: string, clientId: string): EntraRefusal =>
    signatureFailure(
      "The key was not found.",
      thumbprint,
      `, Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.`,
    ),
  badSignature: (thumbprint: string): EntraRefusal =>
    signatureFailure(
      "The provided signature value did not match the expected signature value.",
      thumbprint,
    ),
  keyExpired: (thumbprint: string): EntraRefusal =>
    signatureFailure("The key used is expired.", thumbprint),
  untrustedChain: (thumbprint: string): EntraRefusal =>
    signatureFailure(
      "The certificate chain in x5c does not lead to the certificate authority trusted for its subject, or a certificate in it is not valid now.",
      thumbprint,
    ),
  clientIdMismatch: (): EntraRefusal =>
    refuse(
      "invalid_client",
      700021,
      `Client assertion application identifier doesn't match 'client_id' parameter. ${CERTIFICATE_DOCS}`,
    ),
  audienceNotRealm: (): EntraRefusal =>
    refuse(
      "invalid_client",
      700023,
      `Client assertion audience claim does not match Realm issuer. ${CERTIFICATE_DOCS}`,
    ),
  transient: (): EntraRefusal =>
    refuse("temporarily_unavailable", 90033, "A transient error has occurred. Please try again."),
};
