import { CredentialUnavailableError } from "./errors.js";

const IPV4_LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Whether `hostname` (as `URL.hostname` gives it) is a literal loopback host: `localhost`,
 * an address in `127.0.0.0/8`, or `[::1]`. Names such as `anything.localhost` need DNS and are
 * not loopback here. Plain `http` is allowed only to such hosts.
 *
 * @example
 * ```ts
 * import { isLoopbackHostname } from "@fedcred/core";
 *
 * isLoopbackHostname(new URL("http://127.0.0.1:8080").hostname); // true
 * isLoopbackHostname("metadata.localhost"); // false
 * ```
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  const match = IPV4_LOOPBACK.exec(host);
  return match?.slice(1).every((octet) => Number(octet) <= 255) === true;
}

const SEGMENT = /^[0-9A-Za-z_~-]+(?:\.[0-9A-Za-z_~-]+)*$/;

/**
 * Throws a `CredentialUnavailableError` naming `source` unless `value` is one URL path segment
 * that cannot change the path it is put in: letters, digits, `-`, `_`, `~` and single dots
 * between them (no `.` or `..` segment, no empty label, no `/`, `%`, `?` or `#`). Providers
 * check every value they put in a URL path with it (namespaces, service-account names).
 *
 * @example
 * ```ts
 * import { checkPathSegment } from "@fedcred/core";
 *
 * checkPathSegment(options.namespace, "options.namespace");
 * const path = `/api/v1/namespaces/${options.namespace}/serviceaccounts/${name}/token`;
 * ```
 */
export function checkPathSegment(value: unknown, source: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0) {
    throw new CredentialUnavailableError(`${source} is required.`, "missing_configuration");
  }
  if (!SEGMENT.test(value)) {
    throw new CredentialUnavailableError(
      `${source} is not valid: ${JSON.stringify(value)}. It is put in a URL path, so it may hold only letters, digits, "-", "_", "~" and single dots between them.`,
      "invalid_configuration",
    );
  }
}

/**
 * `value` quoted for an error message, with any user info (`user:password@`) and anything after
 * a `?` or `#` replaced: what a URL that failed to parse may carry must not reach a message.
 */
export function quoteUnparsedUrl(value: string): string {
  const redacted = value
    .replace(
      /^(\s*(?:[a-z][a-z0-9+.-]*:)?\/\/)?[^/?#]*@/i,
      (_match, scheme: string | undefined) => `${scheme ?? ""}***@`,
    )
    .replace(/[?#].*$/s, "?***");
  return JSON.stringify(redacted.length > 200 ? `${redacted.slice(0, 200)}...` : redacted);
}
