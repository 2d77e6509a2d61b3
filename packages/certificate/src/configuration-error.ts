import { CredentialUnavailableError } from "@fedcred/core";

/** A configuration mistake found by the factory: `invalid_configuration`, with what to fix. */
export function invalidConfiguration(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}
