import { invalidConfiguration } from "./errors.js";
import { isLoopbackHostname } from "./url-safety.js";

/** The host names of cloud metadata services that are names, not addresses. */
const METADATA_HOST_NAMES = new Set(["metadata.google.internal", "metadata.google.internal."]);

const IPV4_LINK_LOCAL = /^169\.254\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Whether `hostname` (as `URL.hostname` gives it) is where a cloud's metadata or identity service
 * listens on the host itself: a literal link-local IPv4 address (`169.254.0.0/16`, which routers
 * never forward: Azure IMDS and GCP's metadata server at `169.254.169.254`, App Service's identity
 * endpoint at `169.254.129.x`) or `metadata.google.internal`. Such services speak plain http
 * only; a request marked `metadataService` may use http to them.
 *
 * @example
 * ```ts
 * isMetadataHostname("169.254.169.254"); // true
 * isMetadataHostname("metadata.google.internal"); // true
 * isMetadataHostname("metadata.google.internal.example.com"); // false
 * ```
 */
export function isMetadataHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (METADATA_HOST_NAMES.has(host)) return true;
  const match = IPV4_LINK_LOCAL.exec(host);
  return match?.slice(1).every((octet) => Number(octet) <= 255) === true;
}

/**
 * Throws unless a `metadataService` request may use `url` over plain http: to a loopback host
 * (emulators, App Service's `localhost` endpoint) or a metadata host ({@link isMetadataHostname}).
 */
export function checkMetadataServiceUrl(url: URL, display: string): void {
  if (url.protocol !== "http:") return;
  if (isLoopbackHostname(url.hostname) || isMetadataHostname(url.hostname)) return;
  throw invalidConfiguration(
    `fedcred sends plain http to a metadata service only on loopback hosts, link-local addresses (169.254.x.x) and metadata.google.internal: use https for ${display}.`,
  );
}
