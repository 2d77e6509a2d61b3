import { AuthenticationError, CredentialUnavailableError, type FedcredError } from "@fedcred/core";
import { namedMessage, quotedMessage } from "./quoted-message.js";

/** What was asked of STS, for messages. */
export interface WebIdentityTokenCall {
  audiences: readonly string[];
  signingAlgorithm: string;
  durationSeconds: number;
  tagged: boolean;
}

/**
 * What the SDK's errors carry: an answer has `$metadata.httpStatusCode` (and `$fault`); STS's own
 * error document gives it `Code`, which a proxy's page or another service's answer does not.
 */
interface SdkError {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  Code?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown; attempts?: unknown };
}

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
]);

/** What to check when STS does not answer. */
export const REACH_STS =
  "check the network route to the regional STS endpoint, AWS_ENDPOINT_URL_STS or clientConfig.endpoint, and any proxy.";

/** Failures of the connection itself, as Node and undici name them. */
const NETWORK =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_\w+)$/;
/** Failures of the TLS handshake: certificates, protocol versions, OpenSSL. */
const TLS = /CERT|SSL|TLS|SELF_SIGNED|VERIFY|ISSUER|ERR_OSSL|^EPROTO$/;

function quoteList(values: readonly string[]): string {
  return values.map((value) => JSON.stringify(value)).join(", ");
}

/**
 * The error for a failed `GetWebIdentityToken`: `CredentialUnavailableError` when STS decided
 * nothing (out of reach, unavailable, or something else answered in its place),
 * `AuthenticationError` (`assertion_failed`) when STS answered and refused, with the fix in the
 * message. No key, session token or token is ever part of it.
 */
export function describeFailure(error: unknown, call: WebIdentityTokenCall): FedcredError {
  const failure = (typeof error === "object" && error !== null ? error : {}) as SdkError;
  const name = typeof failure.name === "string" ? failure.name : "Error";
  const status = failure.$metadata?.httpStatusCode;
  const answered = typeof status === "number" || typeof failure.$fault === "string";
  if (!answered) return unavailable(error, failure, name);
  if (typeof failure.Code !== "string") return notStsAnswer(status, error);
  if (typeof status === "number" && status >= 500) {
    const attempts = failure.$metadata?.attempts;
    return new CredentialUnavailableError(
      `AWS STS is unavailable (${status} ${name}${typeof attempts === "number" ? `, after ${attempts} attempt${attempts === 1 ? "" : "s"}` : ""}): try again later; clientConfig.maxAttempts allows the SDK more retries. STS said: ${quotedMessage(failure)}`,
      "assertion_unavailable",
      { cause: error },
    );
  }

  const refused = (message: string): AuthenticationError =>
    new AuthenticationError(message, "assertion_failed", {
      ...(typeof status === "number" ? { statusCode: status } : {}),
    });
  const sts = quotedMessage(failure);
  switch (name) {
    case "OutboundWebIdentityFederationDisabledException":
      return refused(
        "AWS STS refused GetWebIdentityToken: outbound identity federation is not enabled for this AWS account (OutboundWebIdentityFederationDisabledException). An IAM administrator enables it once per account: aws iam enable-outbound-web-identity-federation (or its switch in the IAM console). That returns the account's issuer URL (https://{id}.tokens.sts.global.api.aws), which aws iam get-outbound-web-identity-federation-info shows again at any time: it is the issuer of the Entra federated identity credential.",
      );
    case "AccessDenied":
    case "AccessDeniedException": {
      const actions = call.tagged
        ? '"sts:GetWebIdentityToken" and "sts:TagGetWebIdentityToken" (the request carries tags)'
        : '"sts:GetWebIdentityToken"';
      return refused(
        `AWS STS denied GetWebIdentityToken (${name}): an identity policy of the caller's IAM role must allow ${actions}, for the audience ${quoteList(call.audiences)} (condition key sts:IdentityTokenAudience), the signing algorithm ${call.signingAlgorithm} (sts:SigningAlgorithm) and ${call.durationSeconds} s (sts:DurationSeconds); no SCP, permissions boundary or VPC endpoint policy may deny it. STS said: ${sts}`,
      );
    }
    case "SignatureDoesNotMatch":
      return refused(
        `AWS STS refused the request's signature (SignatureDoesNotMatch): the secret access key does not belong to the access key id, this machine's clock is more than 15 minutes off, or (with clientConfig.endpoint or AWS_ENDPOINT_URL_STS) the request was signed for another region than the endpoint's. Check AWS_SECRET_ACCESS_KEY, the profile's aws_secret_access_key, or clientConfig.credentials. STS said: ${sts}`,
      );
    case "InvalidClientTokenId":
      return refused(
        "AWS STS does not know the access key id (InvalidClientTokenId), or temporary keys came without their session token: check AWS_ACCESS_KEY_ID and AWS_SESSION_TOKEN, the profile, or clientConfig.credentials.",
      );
    case "ExpiredToken":
    case "ExpiredTokenException":
      return refused(
        `The AWS credentials have expired (${name}): renew the temporary credentials (and AWS_SESSION_TOKEN), or leave credentials to the SDK's default provider chain, which renews the instance, task or pod role's credentials itself.`,
      );
    case "SessionDurationEscalationException":
      return refused(
        `AWS STS refused a token of durationSeconds ${call.durationSeconds}: it would outlive the caller's session (SessionDurationEscalationException). Use a shorter durationSeconds, or renew the session's credentials sooner.`,
      );
    case "JWTPayloadSizeExceededException":
      return refused(
        "AWS STS refused the token as too large (JWTPayloadSizeExceededException): pass fewer or shorter options.tags.",
      );
    case "RegionDisabledException":
      return refused(
        `AWS STS is not activated in this region (RegionDisabledException): activate it in the IAM console (Account settings, Security Token Service), or use another region (options.region or AWS_REGION). STS said: ${sts}`,
      );
    case "ValidationError":
      return refused(`AWS STS refused GetWebIdentityToken as invalid (ValidationError): ${sts}`);
    default:
      if (THROTTLING.has(name)) {
        return refused(
          `AWS STS throttled GetWebIdentityToken (${name}), also after the SDK's retries: the token is kept until 80% of its lifetime, so many processes or credentials share this account's STS quota. Try again later, or allow more retries (clientConfig.maxAttempts).`,
        );
      }
      return refused(
        `AWS STS refused GetWebIdentityToken (${typeof status === "number" ? `${status} ` : ""}${name})${sts ? `: ${sts}` : "."}`,
      );
  }
}

/**
 * An answer that is not STS's: no STS error document (a proxy's or load balancer's page, another
 * service at a wrong endpoint), or a success without a token. Nothing STS decided: a chain moves on.
 */
export function notStsAnswer(status: unknown, cause?: unknown): CredentialUnavailableError {
  const shown = typeof status === "number" ? status : "?";
  const down =
    typeof status === "number" && status >= 500
      ? ", and says it is unavailable: STS, or the way to it, may be down. Try again later, and"
      : ":";
  return new CredentialUnavailableError(
    `The answer to GetWebIdentityToken (HTTP ${shown}) is not AWS STS's: it holds no STS response, so a proxy, a load balancer or another service answered in its place${down} check AWS_ENDPOINT_URL_STS or clientConfig.endpoint, and any proxy.`,
    "assertion_unavailable",
    cause === undefined ? undefined : { cause },
  );
}

/** Nothing answered: STS out of reach, the TLS handshake failed, or the request was never sent. A credential chain moves on. */
function unavailable(error: unknown, failure: SdkError, name: string): CredentialUnavailableError {
  const cause = (failure as { cause?: { code?: unknown } }).cause;
  const code =
    typeof failure.code === "string"
      ? failure.code
      : typeof cause?.code === "string"
        ? cause.code
        : undefined;
  const said = quotedMessage(failure);
  const reason = code && !said.includes(code) ? `${code}: ${said}` : said || (code ?? name);
  if (code && TLS.test(code)) {
    return new CredentialUnavailableError(
      `The TLS connection to AWS STS failed (${reason}): the endpoint must speak https with a certificate this machine trusts. For an endpoint with its own CA (clientConfig.endpoint, AWS_ENDPOINT_URL_STS, a TLS-inspecting proxy), add that CA with NODE_EXTRA_CA_CERTS or clientConfig.requestHandler's https agent.`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  if ((code && NETWORK.test(code)) || name === "TimeoutError") {
    return new CredentialUnavailableError(
      `AWS STS is not reachable (${reason}): ${REACH_STS}`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  return new CredentialUnavailableError(
    `GetWebIdentityToken could not be sent (${namedMessage(failure)}), and no network failure was reported: check clientConfig (endpoint, requestHandler, retryStrategy, ...).`,
    "assertion_unavailable",
    { cause: error },
  );
}
