/** Facts of Entra ID's federated-credential rules that `inspect` and `doctor` check tokens against. */

/** The FIC audience of each cloud: public, US Government, China. */
export const EXCHANGE_AUDIENCES: readonly string[] = [
  "api://AzureADTokenExchange",
  "api://AzureADTokenExchangeUSGov",
  "api://AzureADTokenExchangeChina",
];

/** The public cloud's FIC audience. */
export const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** The audience of service-account tokens meant for an AKS identity binding's token proxy. */
export const IDENTITY_BINDING_AUDIENCE = "api://AKSIdentityBinding";

/** Entra refuses external tokens that live longer than 1 day 1 hour (AADSTS70023). */
export const MAX_EXTERNAL_LIFETIME_SECONDS = 90_000;

/** The only algorithm Entra accepts for federated assertions (others: AADSTS5002730). */
export const FEDERATED_ALGORITHM = "RS256";

/** The `typ` header values Entra accepts (others: AADSTS5002727). */
export const ACCEPTED_TYPES: readonly string[] = ["JWT", "http://openid.net/specs/jwt/1.0"];

/** The AADSTS codes of a FIC mismatch, as Entra checks: issuer, then audience, then subject. */
export const FIC_CODES = {
  issuer: 700211,
  audience: 700212,
  subject: 700213,
  subjectCase: 7002138,
} as const;

/** Every code that means no federated identity credential matched (70021 is Entra's generic one). */
export const FIC_MISMATCH_CODES: readonly number[] = [70021, 700211, 700212, 700213, 7002138];

/** Whether Entra's answer says no federated identity credential matched. */
export function isFicMismatch(codes: readonly number[]): boolean {
  return codes.some((code) => FIC_MISMATCH_CODES.includes(code));
}

/** The public cloud's authority host. */
export const PUBLIC_CLOUD = "https://login.microsoftonline.com";
