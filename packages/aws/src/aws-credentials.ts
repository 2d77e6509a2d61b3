import { CredentialUnavailableError } from "@fedcred/core";
import type { ClientOrigin, StsClientLike } from "./client-sts.js";
import { errorName, namedMessage, quotedMessage } from "./quoted-message.js";

/** The default chain's words when none of its providers had credentials. */
const NONE_FOUND = "Could not load credentials from any providers";

/**
 * Obtains the client's AWS credentials before anything is sent, so that their failures (the
 * default chain's AssumeRoleWithWebIdentity refused, a provider that throws or hangs, an
 * incomplete credentials object) are told apart from STS refusing `GetWebIdentityToken`. The SDK
 * memoizes its provider: the signature then uses what this fetched, without a second fetch.
 */
export async function obtainCredentials(
  client: StsClientLike,
  origin: ClientOrigin,
): Promise<void> {
  const provider = client.config?.credentials;
  if (typeof provider !== "function") return;
  let credentials: unknown;
  try {
    credentials = await provider();
  } catch (error) {
    throw describeCredentialsFailure(error, origin);
  }
  const { accessKeyId, secretAccessKey } = (credentials ?? {}) as Record<string, unknown>;
  const missing = Object.entries({ accessKeyId, secretAccessKey })
    .filter(([, value]) => typeof value !== "string" || value === "")
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new CredentialUnavailableError(
      `The AWS credentials from ${origin.credentials} are incomplete: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing or empty. Credentials need a non-empty accessKeyId and secretAccessKey (and the sessionToken of temporary keys).`,
      "invalid_configuration",
    );
  }
}

/** The error for a credentials provider that did not answer within the deadline. */
export function credentialsTimedOut(
  origin: ClientOrigin,
  timeoutInMs: number,
): CredentialUnavailableError {
  const chain = origin.mayBeDefaultChain
    ? " The default chain may be waiting on the ECS or EKS Pod Identity container endpoint, the EC2 instance metadata service, or STS AssumeRoleWithWebIdentity (AWS_WEB_IDENTITY_TOKEN_FILE)."
    : "";
  return new CredentialUnavailableError(
    `No AWS credentials within ${timeoutInMs} ms (options.requestTimeoutInMs): ${origin.credentials} did not answer in time, so STS GetWebIdentityToken was not called.${chain}`,
    "assertion_unavailable",
  );
}

function describeCredentialsFailure(
  error: unknown,
  origin: ClientOrigin,
): CredentialUnavailableError {
  const name = errorName(error);
  const said = quotedMessage(error);
  if (origin.mayBeDefaultChain && name === "CredentialsProviderError" && said === NONE_FOUND) {
    return new CredentialUnavailableError(
      `No AWS credentials were found (${said}): the SDK's default provider chain looked at AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, AWS_WEB_IDENTITY_TOKEN_FILE, and the ECS, EKS Pod Identity and EC2 instance metadata endpoints. Run with an IAM role (instance profile, task role, pod role, Lambda execution role), set those variables, or pass clientConfig.credentials.`,
      "missing_configuration",
      { cause: error },
    );
  }
  let hint: string;
  if (origin.mayBeDefaultChain && process.env.AWS_WEB_IDENTITY_TOKEN_FILE) {
    hint =
      "AWS_WEB_IDENTITY_TOKEN_FILE is set (EKS IRSA, or any web identity role), so the default chain exchanges that file's token for the role in AWS_ROLE_ARN with STS AssumeRoleWithWebIdentity: the role's trust policy must allow sts:AssumeRoleWithWebIdentity for the token's issuer (the cluster's OIDC provider, registered in IAM) with its aud (sts.amazonaws.com) and sub (system:serviceaccount:{namespace}:{name}), and the token file must exist and be current.";
  } else if (origin.mayBeDefaultChain) {
    hint =
      "Check the source the default chain found here (the environment, the AWS profile, the ECS task role, EKS Pod Identity, the EC2 instance profile), or pass clientConfig.credentials.";
  } else {
    hint = `Check ${origin.credentials}.`;
  }
  return new CredentialUnavailableError(
    `The AWS credentials could not be obtained from ${origin.credentials} (${namedMessage(error)}), so STS GetWebIdentityToken was not called. ${hint}`,
    "assertion_unavailable",
    { cause: error },
  );
}
