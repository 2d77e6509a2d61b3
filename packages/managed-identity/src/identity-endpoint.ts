import { CredentialUnavailableError, isLoopbackHostname, isMetadataHostname } from "@fedcred/core";

/**
 * The variable App Service, Functions and Container Apps set to their identity endpoint's URL.
 *
 * @example
 * ```ts
 * import { IDENTITY_ENDPOINT, IDENTITY_HEADER } from "@fedcred/managed-identity";
 *
 * const onAppService = Boolean(process.env[IDENTITY_ENDPOINT] && process.env[IDENTITY_HEADER]);
 * ```
 */
export const IDENTITY_ENDPOINT = "IDENTITY_ENDPOINT";
/**
 * The variable App Service, Functions and Container Apps set to the secret their identity
 * endpoint asks for in `X-IDENTITY-HEADER`.
 *
 * @example
 * ```ts
 * import { IDENTITY_HEADER } from "@fedcred/managed-identity";
 *
 * const hasHeader = process.env[IDENTITY_HEADER] !== undefined;
 * ```
 */
export const IDENTITY_HEADER = "IDENTITY_HEADER";
/**
 * The variable naming the host that answers for IMDS (AAD Pod Identity, emulators), instead of
 * `http://169.254.169.254`.
 *
 * @example
 * ```ts
 * import { AZURE_POD_IDENTITY_AUTHORITY_HOST } from "@fedcred/managed-identity";
 *
 * process.env[AZURE_POD_IDENTITY_AUTHORITY_HOST] = "http://127.0.0.1:50342"; // an emulator
 * ```
 */
export const AZURE_POD_IDENTITY_AUTHORITY_HOST = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

const IMDS_HOST = "http://169.254.169.254";
const IMDS_PATH = "/metadata/identity/oauth2/token";

/** Which protocol an identity endpoint speaks. */
export type EndpointKind = "imds" | "app-service";

/** Where tokens come from, resolved once at the factory. */
export interface IdentityEndpoint {
  kind: EndpointKind;
  url: URL;
  /** What named the URL, for messages: an option, a variable, or IMDS's default. */
  source: string;
  /** App Service's `X-IDENTITY-HEADER` value. Never printed. */
  identityHeader?: string;
  /** Where the identity header came from: `options.identityHeader` or `IDENTITY_HEADER`. */
  identityHeaderSource?: string;
  /** Set when the environment names a source this package does not speak: fails each call. */
  unsupported?: string;
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/** `value` as an identity endpoint URL: https, or http to loopback and link-local hosts. */
function endpointUrl(value: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${source} is not an absolute URL, such as http://169.254.169.254.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`${source} must be an http or https URL.`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(`${source} must not hold a user name or password.`);
  }
  if (
    url.protocol === "http:" &&
    !isLoopbackHostname(url.hostname) &&
    !isMetadataHostname(url.hostname)
  ) {
    throw invalid(
      `${source} names http://${url.host}: plain http goes only to loopback hosts and link-local addresses (169.254.x.x), where identity endpoints listen; use https for any other host.`,
    );
  }
  return url;
}

/**
 * The identity endpoint, as `@azure/identity` finds it: `options.endpoint`; else
 * `IDENTITY_ENDPOINT` with `IDENTITY_HEADER` (App Service, Functions, Container Apps); else IMDS
 * at `169.254.169.254` or `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
 */
export function resolveEndpoint(
  endpoint: string | undefined,
  identityHeader: string | undefined,
  env: NodeJS.ProcessEnv,
): IdentityEndpoint {
  const header = (identityHeader ?? env[IDENTITY_HEADER])?.trim() || undefined;
  const identityHeaderSource =
    identityHeader !== undefined ? "options.identityHeader" : IDENTITY_HEADER;
  if (header !== undefined && /[^\x21-\x7e]/.test(header)) {
    // Node would refuse it as a header value; its value is never shown.
    throw invalid(
      `${identityHeaderSource} holds a space, a line break or another character an identity header never has (its value is not shown): set it to the value the platform gave, unchanged.`,
    );
  }
  if (endpoint !== undefined) {
    if (typeof endpoint !== "string" || endpoint === "") {
      throw invalid("options.endpoint must be the identity endpoint's URL.");
    }
    const url = endpointUrl(endpoint, "options.endpoint");
    if (header !== undefined) {
      return {
        kind: "app-service",
        url,
        source: "options.endpoint",
        identityHeader: header,
        identityHeaderSource,
      };
    }
    // A bare IMDS host gets IMDS's token path.
    return {
      kind: "imds",
      url: url.pathname === "/" ? new URL(IMDS_PATH, url) : url,
      source: "options.endpoint",
    };
  }
  const identityEndpoint = env[IDENTITY_ENDPOINT];
  if (identityEndpoint) {
    const url = endpointUrl(identityEndpoint, IDENTITY_ENDPOINT);
    if (header !== undefined) {
      if (env.IDENTITY_SERVER_THUMBPRINT) {
        return {
          kind: "app-service",
          url,
          source: IDENTITY_ENDPOINT,
          unsupported:
            "IDENTITY_SERVER_THUMBPRINT is set: this is a Service Fabric managed identity, which @fedcred/managed-identity does not speak.",
        };
      }
      return {
        kind: "app-service",
        url,
        source: IDENTITY_ENDPOINT,
        identityHeader: header,
        identityHeaderSource,
      };
    }
    return {
      kind: "app-service",
      url,
      source: IDENTITY_ENDPOINT,
      unsupported: env.IMDS_ENDPOINT
        ? "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set: this is an Azure Arc server, whose managed identity @fedcred/managed-identity does not speak."
        : "IDENTITY_ENDPOINT is set without IDENTITY_HEADER: set both (App Service, Functions and Container Apps set both), or pass options.identityHeader.",
    };
  }
  const podHost = env[AZURE_POD_IDENTITY_AUTHORITY_HOST];
  const base = podHost
    ? endpointUrl(podHost, AZURE_POD_IDENTITY_AUTHORITY_HOST)
    : new URL(IMDS_HOST);
  return {
    kind: "imds",
    url: new URL(IMDS_PATH, base),
    source: podHost ? AZURE_POD_IDENTITY_AUTHORITY_HOST : "IMDS",
  };
}
