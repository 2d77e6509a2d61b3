import type { JwtClaims } from "./jwt.js";

const FIC_MISMATCH = new Set([70021, 700211, 700212, 700213, 7002138]);

/** The audience of service-account tokens meant for an AKS identity binding's token proxy. */
const AKS_IDENTITY_BINDING_AUDIENCE = "api://AKSIdentityBinding";

function audiences(claims: JwtClaims | undefined): unknown[] {
  const aud = claims?.aud;
  return Array.isArray(aud) ? aud : [aud];
}

/** For an AWS STS web-identity token: what the FIC's subject must be. */
function awsSubject(claims: JwtClaims | undefined): string {
  const sub = claims?.sub;
  if (typeof sub !== "string" || !/^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(sub)) return "";
  return ` For AWS, the federated identity credential's subject must be this IAM role ARN exactly (${sub}), and its issuer the account's outbound federation issuer (https://{account-id}.tokens.sts.global.api.aws).`;
}

function quote(value: unknown): string {
  if (value === undefined) return "(none)";
  return JSON.stringify(value);
}

function describeAssertion(claims: JwtClaims | undefined): string {
  if (!claims) return "The assertion could not be decoded as a JWT.";
  return `The assertion has iss ${quote(claims.iss)}, sub ${quote(claims.sub)}, aud ${quote(claims.aud)}.`;
}

function isoTime(seconds: unknown): string {
  if (typeof seconds !== "number") return "(none)";
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime())
    ? `${seconds} (not a valid time: is it in seconds?)`
    : date.toISOString();
}

function describeLifetime(claims: JwtClaims | undefined): string {
  if (typeof claims?.exp !== "number") return "";
  const start = typeof claims.nbf === "number" ? claims.nbf : claims.iat;
  if (typeof start !== "number") return `It expires at ${isoTime(claims.exp)}.`;
  return `It is valid for ${Math.round((claims.exp - start) / 60)} minutes (nbf/iat ${isoTime(start)}, exp ${isoTime(claims.exp)}).`;
}

/** What to do about an AADSTS code, with the decoded claims of the assertion where they help. */
export function hintFor(
  codes: readonly number[],
  claims: JwtClaims | undefined,
): string | undefined {
  for (const code of codes) {
    switch (code) {
      case 50027:
        return "The assertion is not a well-formed JWT: check what the assertion function returns.";
      case 5002727:
        return 'The assertion header must have "typ": "JWT" (or no typ).';
      case 700016:
        return "No application with this client id exists in the tenant: check clientId and tenantId (is the app registered in this tenant, or consented to it?).";
      case 700024:
        return `The assertion is outside its valid time range (nbf ${isoTime(claims?.nbf)}, exp ${isoTime(claims?.exp)}): check the clock of this machine and the lifetime of the assertion.`;
      case 700027:
        return "The assertion's signature or key is not registered on the app: upload the certificate (or check the thumbprint) in the app registration.";
      case 70021:
      case 700211:
      case 700212:
        if (audiences(claims).includes(AKS_IDENTITY_BINDING_AUDIENCE)) {
          return `The assertion's audience is ${AKS_IDENTITY_BINDING_AUDIENCE}: this pod uses an AKS identity binding, whose token requests must go through the cluster's token proxy. Turn on enableAzureProxy (workloadIdentityCredential({ enableAzureProxy: true }) of @fedcred/kubernetes), which sends them to AZURE_KUBERNETES_TOKEN_PROXY; if it is on already, check that the identity binding covers this service account. ${describeAssertion(claims)}`;
        }
        if (code === 700212) {
          return `No federated identity credential of the app has this audience (use api://AzureADTokenExchange). ${describeAssertion(claims)}`;
        }
        return `No federated identity credential of the app has this issuer (issuers must match exactly). ${describeAssertion(claims)}`;
      case 700213:
        return `No federated identity credential of the app has this subject (subjects must match exactly). ${describeAssertion(claims)}${awsSubject(claims)}`;
      case 7002138:
        return `A federated identity credential's subject differs from the assertion's only in letter case; subjects are case-sensitive. ${describeAssertion(claims)}`;
      case 900023:
        return "The tenant id is not valid: check tenantId (a GUID or a verified domain such as contoso.onmicrosoft.com).";
      case 90002:
        return "The tenant was not found: check tenantId, and that authorityHost is the cloud the tenant lives in (public, US Government or China).";
      case 70011:
        return 'The scope is not valid for client credentials: ask for one resource per request, as "{resource}/.default" (such as "https://storage.azure.com/.default").';
      case 700023:
        return `The assertion's aud (${quote(claims?.aud)}) is not the token endpoint the request reached: certificate assertions must name the exact token endpoint URL, and a proxy or gateway that rewrites the URL makes them differ.`;
      case 70023:
        return `The assertion lives too long: Entra accepts external tokens that live at most 1 day 1 hour; use a short-lived token (an hour is usual). ${describeLifetime(claims)}`;
      case 50196:
        return "Entra detected a loop of identical token requests: create the credential once and reuse it, so its cache serves repeated calls.";
      case 1002012:
        return 'Client-credential scopes must end in "/.default", such as "https://storage.azure.com/.default".';
      default:
        break;
    }
  }
  return undefined;
}

/** Whether any of the codes says no federated identity credential matched. */
export function isFederationMismatch(codes: readonly number[]): boolean {
  return codes.some((code) => FIC_MISMATCH.has(code));
}
