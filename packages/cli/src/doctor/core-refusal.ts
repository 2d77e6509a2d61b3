import { ClientAssertionCredential } from "@fedcred/core";

/** Stand-ins for values a check does not judge, so core's constructor judges only the one it does. */
export const PLACEHOLDER_TENANT = "organizations";
export const PLACEHOLDER_CLIENT = "00000000-0000-0000-0000-000000000000";

/** Core's own verdict on a tenant id, client id and authority host: its message, or `undefined`. */
export function coreRefusal(
  tenantId: string,
  clientId: string,
  authorityHost: string,
): string | undefined {
  try {
    void new ClientAssertionCredential(tenantId, clientId, () => "", { authorityHost }).close();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
