import { CredentialUnavailableError } from "./errors.js";
import { describeValue } from "./text.js";

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

/** Dot-separated labels of letters, digits and `-`: a GUID or a domain; never `.`, `..` or an empty label. */
const TENANT_ID = /^[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*$/;

/** Throws when `tenantId` cannot be a tenant id (it goes into a URL path). */
export function checkTenantId(tenantId: unknown, source: string): asserts tenantId is string {
  if (typeof tenantId !== "string" || tenantId.length === 0) {
    throw new CredentialUnavailableError(
      `${source} is required: pass the directory (tenant) id of the app registration${tenantId === undefined ? "" : `, got ${describeValue(tenantId)}`}.`,
      "missing_configuration",
    );
  }
  if (!TENANT_ID.test(tenantId)) {
    throw new CredentialUnavailableError(
      `${source} is not a valid tenant id: ${JSON.stringify(tenantId)}. It may hold only letters, digits, "-" and single dots between them (a GUID or a domain such as contoso.onmicrosoft.com).`,
      "invalid_configuration",
    );
  }
}

/**
 * Chooses the tenant of a request: the per-call tenant only when it is the configured one, is
 * additionally allowed, or any tenant is allowed, and multi-tenant auth is not disabled.
 * Tenant ids are compared without regard to letter case; `allowedTenants` holds lower case.
 */
export function resolveTenant(
  configuredTenant: string,
  allowedTenants: ReadonlySet<string>,
  requestedTenant: unknown,
): string {
  if (typeof requestedTenant === "string" && sameTenant(requestedTenant, configuredTenant)) {
    return configuredTenant;
  }
  if (multiTenantAuthDisabled()) return configuredTenant;
  checkTenantId(requestedTenant, "options.tenantId");
  if (allowedTenants.has("*") || allowedTenants.has(requestedTenant.toLowerCase())) {
    return requestedTenant;
  }
  throw new CredentialUnavailableError(
    `The credential is configured for tenant ${JSON.stringify(configuredTenant)} and may not get tokens for tenant ${JSON.stringify(requestedTenant)}. Add it to options.additionallyAllowedTenants (or "*" for any tenant).`,
    "tenant_not_allowed",
  );
}

/**
 * Whether `AZURE_IDENTITY_DISABLE_MULTITENANTAUTH=true` pins requests to the configured tenant:
 * read on every call, as the Azure SDK reads it.
 */
export function multiTenantAuthDisabled(): boolean {
  return process.env[AZURE_IDENTITY_DISABLE_MULTITENANTAUTH]?.toLowerCase() === "true";
}

/** Whether two tenant ids name the same tenant (ids are not case-sensitive). */
export function sameTenant(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}
