import type { JwtClaims } from "@fedcred/core";
import {
  ACCEPTED_TYPES,
  EXCHANGE_AUDIENCE,
  EXCHANGE_AUDIENCES,
  FEDERATED_ALGORITHM,
  IDENTITY_BINDING_AUDIENCE,
  MAX_EXTERNAL_LIFETIME_SECONDS,
} from "./entra-rules.js";
import { audiencesOf, type DecodedJwt } from "./jwt.js";
import { formatDuration, formatEpoch } from "./time.js";

/** What a JWT is, from its shape. */
export type JwtKind = "federated-assertion" | "certificate-assertion" | "access-token";

/**
 * Something a person should know about a token. `error`: Entra refuses it (with `aadsts`);
 * `warning`: it fails unless the app is set up unusually; `note`: worth knowing, not a failure.
 */
export interface Finding {
  level: "error" | "warning" | "note";
  /** A stable name for programs: `expired`, `audience`, `algorithm`, ... */
  code: string;
  /** The AADSTS code Entra answers for it, when it refuses. */
  aadsts?: number;
  message: string;
}

const ENTRA_ISSUER =
  /^https:\/\/(sts\.windows\.net\/|login\.(microsoftonline\.(com|us)|chinacloudapi\.cn|partner\.microsoftonline\.cn)\/)/i;

/**
 * Tells an Entra access token (v1 `sts.windows.net` or v2 issuer, `tid` with `appid`/`azp`) from a
 * certificate assertion (`x5t` or `x5t#S256` header) and a federated assertion (anything else).
 */
export function classify(jwt: DecodedJwt): JwtKind {
  const { header, claims } = jwt;
  // Access tokens carry x5t too: their issuer (never a client id) tells them apart first.
  const issuedByEntra = typeof claims.iss === "string" && ENTRA_ISSUER.test(claims.iss);
  if (issuedByEntra || (typeof claims.tid === "string" && ("appid" in claims || "azp" in claims))) {
    return "access-token";
  }
  if (typeof header.x5t === "string" || typeof header["x5t#S256"] === "string") {
    return "certificate-assertion";
  }
  return "federated-assertion";
}

/** One line saying what the token is, for people. */
export function describeKind(kind: JwtKind): string {
  switch (kind) {
    case "access-token":
      return "An Entra ID access token (what a token request returns; it is sent to the resource, not to Entra).";
    case "certificate-assertion":
      return "A certificate client assertion (signed with the app's certificate key; Entra checks the thumbprint and the aud).";
    default:
      return "A federated client assertion (a platform's token that Entra exchanges through a federated identity credential).";
  }
}

function timeFindings(
  claims: JwtClaims,
  nowSeconds: number,
  refusalCode: number | undefined,
): Finding[] {
  const found: Finding[] = [];
  const withCode = (finding: Finding): Finding =>
    refusalCode === undefined ? finding : { ...finding, aadsts: refusalCode };
  if (typeof claims.exp !== "number") {
    found.push({
      level: "error",
      code: "no_expiry",
      ...(refusalCode === undefined ? {} : { aadsts: 50027 }),
      message: `The token has no exp claim${refusalCode === undefined ? "" : ": Entra refuses it as malformed (AADSTS50027)"}.`,
    });
  } else if (claims.exp <= nowSeconds) {
    found.push(
      withCode({
        level: "error",
        code: "expired",
        message: `The token expired ${formatDuration(nowSeconds - claims.exp)} ago (exp ${formatEpoch(claims.exp)})${refusalCode === undefined ? "" : `: Entra answers AADSTS${refusalCode}`}. Get a fresh one (a projected token file is rotated at 80% of its lifetime: is the volume still mounted?), and check this machine's clock.`,
      }),
    );
  }
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds) {
    found.push(
      withCode({
        level: "error",
        code: "not_yet_valid",
        message: `The token is not valid for another ${formatDuration(claims.nbf - nowSeconds)} (nbf ${formatEpoch(claims.nbf)})${refusalCode === undefined ? "" : `: Entra answers AADSTS${refusalCode} beyond its clock-skew allowance`}. Check the clocks of this machine and of the issuer.`,
      }),
    );
  }
  return found;
}

/** The lifetime from `nbf` (else `iat`) to `exp`, in seconds, when the token says. */
export function lifetimeOf(claims: JwtClaims): number | undefined {
  const start = typeof claims.nbf === "number" ? claims.nbf : claims.iat;
  if (typeof claims.exp !== "number" || typeof start !== "number") return undefined;
  return claims.exp - start;
}

function federatedFindings(jwt: DecodedJwt): Finding[] {
  const { header, claims } = jwt;
  const found: Finding[] = [];
  if (typeof claims.iss !== "string" || typeof claims.sub !== "string") {
    found.push({
      level: "error",
      code: "missing_claim",
      aadsts: 50027,
      message: `The token has no ${typeof claims.iss !== "string" ? "iss" : "sub"} claim: Entra cannot match it to a federated identity credential.`,
    });
  }
  if (header.alg !== FEDERATED_ALGORITHM) {
    found.push({
      level: "error",
      code: "algorithm",
      aadsts: 5002730,
      message: `The token is signed ${JSON.stringify(header.alg ?? null)}: Entra accepts only ${FEDERATED_ALGORITHM} for federated assertions (AADSTS5002730). Ask the issuer for RS256 (AWS: signingAlgorithm "RS256").`,
    });
  }
  if (header.typ === undefined) {
    found.push({
      level: "note",
      code: "typ_missing",
      message:
        'The header has no typ. Entra accepts that (Kubernetes service-account tokens have none); a typ other than "JWT" would fail with AADSTS5002727.',
    });
  } else if (typeof header.typ !== "string" || !ACCEPTED_TYPES.includes(header.typ)) {
    found.push({
      level: "error",
      code: "typ",
      aadsts: 5002727,
      message: `The header's typ is ${JSON.stringify(header.typ)}: Entra accepts only "JWT" (or no typ) and answers AADSTS5002727.`,
    });
  }
  const lifetime = lifetimeOf(claims);
  if (lifetime !== undefined && lifetime > MAX_EXTERNAL_LIFETIME_SECONDS) {
    found.push({
      level: "error",
      code: "lifetime",
      aadsts: 70023,
      message: `The token lives ${formatDuration(lifetime)}: Entra refuses external tokens that live longer than 1 day 1 hour (AADSTS70023). Ask the issuer for a shorter lifetime (an hour is usual).`,
    });
  }
  const audiences = audiencesOf(claims);
  if (audiences.includes(IDENTITY_BINDING_AUDIENCE)) {
    found.push({
      level: "warning",
      code: "identity_binding_audience",
      aadsts: 700212,
      message: `The audience is ${IDENTITY_BINDING_AUDIENCE}: the token belongs to an AKS identity binding, and its token requests must go through the cluster's token proxy (AZURE_KUBERNETES_TOKEN_PROXY; enableAzureProxy in workloadIdentityCredential of @fedcred/kubernetes or @azure/identity). Sent to Entra directly, it fails with AADSTS700211/700212.`,
    });
  } else if (!audiences.some((audience) => EXCHANGE_AUDIENCES.includes(audience))) {
    found.push({
      level: "warning",
      code: "audience",
      aadsts: 700212,
      message: `The audience is ${audiences.length === 0 ? "missing" : JSON.stringify(audiences.length === 1 ? audiences[0] : audiences)}, not ${EXCHANGE_AUDIENCE}: unless the federated identity credential lists exactly this audience, Entra answers AADSTS700212. Ask the issuer for audience ${EXCHANGE_AUDIENCE}.`,
    });
  } else if (!audiences.includes(EXCHANGE_AUDIENCE)) {
    found.push({
      level: "note",
      code: "sovereign_audience",
      message: `The audience ${audiences.find((audience) => EXCHANGE_AUDIENCES.includes(audience))} is for a sovereign cloud: the authority host must be that cloud's.`,
    });
  }
  return found;
}

function certificateFindings(jwt: DecodedJwt): Finding[] {
  const { header, claims } = jwt;
  const found: Finding[] = [];
  if (header.alg !== "PS256" && header.alg !== "RS256") {
    found.push({
      level: "error",
      code: "algorithm",
      aadsts: 700027,
      message: `The assertion is signed ${JSON.stringify(header.alg ?? null)}: certificate assertions are PS256 (with x5t#S256) or RS256 (with x5t).`,
    });
  }
  if (typeof claims.iss !== "string" || claims.iss !== claims.sub) {
    found.push({
      level: "error",
      code: "issuer_subject",
      aadsts: 700021,
      message: `iss (${JSON.stringify(claims.iss ?? null)}) and sub (${JSON.stringify(claims.sub ?? null)}) must both be the app's client id (AADSTS700021).`,
    });
  }
  const audiences = audiencesOf(claims);
  if (audiences.length !== 1 || !/\/oauth2\/(v2\.0\/)?token$/.test(audiences[0] ?? "")) {
    found.push({
      level: "error",
      code: "audience",
      aadsts: 700023,
      message: `The aud (${JSON.stringify(claims.aud ?? null)}) must be the one token endpoint URL the assertion is posted to, such as https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token (AADSTS700023).`,
    });
  }
  if (typeof claims.jti !== "string") {
    found.push({
      level: "error",
      code: "no_jti",
      aadsts: 50027,
      message:
        "The assertion has no jti: Entra refuses certificate assertions without one (AADSTS50027).",
    });
  }
  return found;
}

/** Everything worth saying about a token, most serious first. */
export function findingsFor(jwt: DecodedJwt, kind: JwtKind, nowSeconds: number): Finding[] {
  const found =
    kind === "access-token"
      ? timeFindings(jwt.claims, nowSeconds, undefined)
      : [
          ...timeFindings(jwt.claims, nowSeconds, 700024),
          ...(kind === "federated-assertion" ? federatedFindings(jwt) : certificateFindings(jwt)),
        ];
  const rank = { error: 0, warning: 1, note: 2 } as const;
  return found.sort((a, b) => rank[a.level] - rank[b.level]);
}
