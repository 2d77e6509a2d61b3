import { CredentialUnavailableError } from "./errors.js";

/**
 * The environment variable that, set to `true`, pins every request to the configured tenant.
 *
 * @example
 * ```ts
 * import { AZURE_IDENTITY_DISABLE_MULTITENANTAUTH } from "@fedcred/core";
 *
 * process.env[AZURE_IDENTITY_DISABLE_MULTITENANTAUTH] = "true";
 * ```
 */
export const AZURE_IDENTITY_DISABLE_MULTITENANTAUTH = "AZURE_IDENTITY_DISABLE_MULTITENANTAUTH";

const TENANT_ID = /^[0-9A-Za-z.-]+$/;

/** Throws when `tenantId` cannot be a tenant id (it goes into a URL path). */
export function checkTenantId(tenantId: unknown, source: string): asserts tenantId is string {
  if (typeof tenantId !== "string" || tenantId.length === 0) {
    throw new CredentialUnavailableError(
      `${source} is required: pass the directory (tenant) id of the app registration.`,
      "missing_configuration",
    );
  }
  if (!TENANT_ID.test(tenantId)) {
    throw new CredentialUnavailableError(
      `${source} is not a valid tenant id: it may hold only letters, digits, "." and "-" (a GUID or a domain such as contoso.onmicrosoft.com).`,
      "invalid_configuration",
    );
  }
}

/**
 * Chooses the tenant of a request: the per-call tenant only when it is the configured one, is
 * additionally allowed, or any tenant is allowed, and multi-tenant auth is not disabled.
 */
export function resolveTenant(
  configuredTenant: string,
  allowedTenants: ReadonlySet<string>,
  requestedTenant: string,
): string {
  if (requestedTenant === configuredTenant) return configuredTenant;
  if (process.env[AZURE_IDENTITY_DISABLE_MULTITENANTAUTH]?.toLowerCase() === "true") {
    return configuredTenant;
  }
  checkTenantId(requestedTenant, "options.tenantId");
  if (allowedTenants.has("*") || allowedTenants.has(requestedTenant)) return requestedTenant;
  throw new CredentialUnavailableError(
    `The credential is configured for tenant "${configuredTenant}" and may not get tokens for tenant "${requestedTenant}". Add it to options.additionallyAllowedTenants (or "*" for any tenant).`,
    "tenant_not_allowed",
  );
}
