import { CredentialUnavailableError } from "@fedcred/core";
import type { ClientOrigin, StsClientLike } from "./client-sts.js";
import { quotedMessage } from "./quoted-message.js";

/**
 * Resolves the client's region before anything is sent: a missing region, or one the SDK does
 * not accept (from AWS_REGION or the profile: options are checked at the factory), is a
 * configuration error that names where the region came from, never a network failure.
 */
export async function resolveRegion(client: StsClientLike, origin: ClientOrigin): Promise<void> {
  const provider = client.config?.region;
  if (typeof provider !== "function") return;
  try {
    await provider();
  } catch (error) {
    throw describeRegionFailure(error, origin);
  }
}

function describeRegionFailure(error: unknown, origin: ClientOrigin): CredentialUnavailableError {
  const said = quotedMessage(error);
  if (said.startsWith("Region is missing")) {
    return new CredentialUnavailableError(
      "No AWS region is configured: GetWebIdentityToken is answered only by regional STS endpoints. Set options.region, AWS_REGION, or region in the AWS profile (Lambda sets AWS_REGION; on EC2 the SDK does not ask the instance, so set it).",
      "missing_configuration",
      { cause: error },
    );
  }
  const source =
    origin.region ??
    (process.env.AWS_REGION
      ? "AWS_REGION"
      : `the region of the AWS profile "${process.env.AWS_PROFILE || "default"}" (AWS_CONFIG_FILE, or ~/.aws/config)`);
  return new CredentialUnavailableError(
    `The AWS region from ${source} is not usable (${said.replace(/\.$/, "")}): set it to a region name such as "eu-west-1".`,
    "invalid_configuration",
    { cause: error },
  );
}
