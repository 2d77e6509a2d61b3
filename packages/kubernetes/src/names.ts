import { CredentialUnavailableError } from "@fedcred/core";

const LABEL = "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?";
const DNS_LABEL = new RegExp(`^${LABEL}$`);
const DNS_SUBDOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

function required(value: unknown, source: string): asserts value is string {
  if (typeof value !== "string" || value === "") {
    throw new CredentialUnavailableError(`${source} is required.`, "missing_configuration");
  }
}

/**
 * Throws unless `value` is a Kubernetes namespace name: an RFC 1123 DNS label (lower-case
 * letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters).
 * Such a value cannot change the path it is put in.
 */
export function checkNamespace(value: unknown, source: string): asserts value is string {
  required(value, source);
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new CredentialUnavailableError(
      `${source} is not a valid Kubernetes namespace: ${JSON.stringify(value)}. A namespace is a DNS label: at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit.`,
      "invalid_configuration",
    );
  }
}

/**
 * Throws unless `value` is a Kubernetes service-account name: an RFC 1123 DNS subdomain
 * (DNS labels joined by dots, at most 253 characters).
 */
export function checkServiceAccountName(value: unknown, source: string): asserts value is string {
  required(value, source);
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    throw new CredentialUnavailableError(
      `${source} is not a valid Kubernetes service-account name: ${JSON.stringify(value)}. A name is a DNS subdomain: at most 253 lower-case letters, digits, "-" and ".", each dot-separated part starting and ending with a letter or digit.`,
      "invalid_configuration",
    );
  }
}
