import {
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  checkSourceJwt,
  checkTimeoutInMs,
  createTransport,
  type HttpResponse,
  isLoopbackHostname,
  isMetadataHostname,
  isRetryableTransportError,
  memoizeAssertionPerAudience,
  quoteServerText,
  sendWithRetries,
  type Transport,
} from "@fedcred/core";

/**
 * The environment variable naming the metadata server's `host[:port]`, as Google's client
 * libraries read it. Default `metadata.google.internal`.
 *
 * @example
 * ```ts
 * import { GCE_METADATA_HOST } from "@fedcred/gcp";
 *
 * process.env[GCE_METADATA_HOST] = "127.0.0.1:8080"; // an emulator
 * ```
 */
export const GCE_METADATA_HOST = "GCE_METADATA_HOST";

/** Where the metadata server answers on Compute Engine, GKE, Cloud Run and Cloud Functions. */
const DEFAULT_METADATA_HOST = "metadata.google.internal";
const DEFAULT_TIMEOUT_MS = 10_000;
/** An identity token is about 1 KiB; a generous cap, far below anything hostile. */
const MAX_BODY_BYTES = 64 * 1024;
/** Google's client libraries try metadata requests three times. */
const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = 250;
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const SERVICE_ACCOUNT = /^(default|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)$/;

/**
 * Options of {@link fromGcpMetadata}.
 *
 * @example
 * ```ts
 * import type { GcpMetadataOptions } from "@fedcred/gcp";
 *
 * const options: GcpMetadataOptions = { audience: "api://AzureADTokenExchange", metadataHost: "metadata.google.internal" };
 * ```
 */
export interface GcpMetadataOptions {
  /**
   * The identity token's audience, which the federated identity credential must list. Default:
   * the token exchange audience of the credential's cloud, from its `authorityHost`:
   * `api://AzureADTokenExchange`, `api://AzureADTokenExchangeUSGov` (login.microsoftonline.us,
   * login.usgovcloudapi.net) or `api://AzureADTokenExchangeChina` (login.chinacloudapi.cn,
   * login.partner.microsoftonline.cn).
   */
  audience?: string;
  /**
   * The metadata server's `host[:port]` (no scheme: it speaks plain http). Default
   * `GCE_METADATA_HOST`, else `metadata.google.internal`. Plain http goes only to
   * `metadata.google.internal`, link-local addresses (`169.254.x.x`) and loopback hosts.
   */
  metadataHost?: string;
  /** The service account: `default` (the default) or the email of one attached to the workload. */
  serviceAccount?: string;
  /** One deadline for each request to the metadata server, in milliseconds. Default 10 000. */
  requestTimeoutInMs?: number;
}

/**
 * An assertion from the Google Cloud metadata server: the identity token of the workload's
 * service account (`GET http://{host}/computeMetadata/v1/instance/service-accounts/default/identity?audience=...&format=full`
 * with `Metadata-Flavor: Google`), on Compute Engine, GKE (with Workload Identity Federation for
 * GKE), Cloud Run and Cloud Functions. Its issuer is `https://accounts.google.com` and its subject
 * the service account's unique id (21 digits): the federated identity credential must name both,
 * and the audience.
 *
 * The token (it lives an hour) is kept until shortly before its `exp`; concurrent calls share one
 * request; `context.forceRefresh` (Entra said AADSTS700024) asks the server again. Requests go
 * through core's transport, never through a proxy; only answers that carry
 * `Metadata-Flavor: Google` are trusted, as Google's libraries trust them.
 *
 * @throws {@link CredentialUnavailableError} at once for invalid options or `GCE_METADATA_HOST`
 *   (`invalid_configuration`). Calls reject with `CredentialUnavailableError`
 *   (`assertion_unavailable`) when no metadata server answers (not on Google Cloud), or something
 *   else answers (no `Metadata-Flavor: Google`, a redirect); with `AuthenticationError`
 *   (`assertion_failed`) when the metadata server refuses (a 403 or 404 names the service
 *   account), fails after three attempts, or answers something that is not an identity token.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromGcpMetadata } from "@fedcred/gcp";
 *
 * // On Cloud Run: the app's federated credential names issuer https://accounts.google.com and
 * // the service account's unique id as subject.
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromGcpMetadata());
 * ```
 */
export function fromGcpMetadata(options: GcpMetadataOptions = {}): AssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw invalid("fromGcpMetadata takes an options object, such as { audience }.");
  }
  const audience = options.audience;
  if (audience !== undefined && (typeof audience !== "string" || audience.trim() === "")) {
    throw invalid(
      "options.audience must be a non-empty string, such as api://AzureADTokenExchange.",
    );
  }
  const host = metadataHostOf(options.metadataHost);
  const serviceAccount = options.serviceAccount ?? "default";
  if (typeof serviceAccount !== "string" || !SERVICE_ACCOUNT.test(serviceAccount)) {
    throw invalid(
      `options.serviceAccount must be "default" or a service account's email, got ${JSON.stringify(serviceAccount)}.`,
    );
  }
  const timeoutInMs = checkTimeoutInMs(
    options.requestTimeoutInMs ?? DEFAULT_TIMEOUT_MS,
    "options.requestTimeoutInMs",
  );

  let transport: Transport | undefined;
  const server = `http://${host.value}`;
  // One memo per audience: a credential of another cloud asks for another audience.
  return memoizeAssertionPerAudience(audience, (tokenAudience) => async (context) => {
    transport ??= createTransport();
    const url = `${server}/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(serviceAccount)}/identity?audience=${encodeURIComponent(tokenAudience)}&format=full`;
    const response = await send(
      transport,
      url,
      server,
      host.source,
      context.abortSignal,
      timeoutInMs,
    );
    return identityToken(response, server, serviceAccount, tokenAudience);
  });
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/** The `host[:port]` to ask, and where it came from, checked once at the factory. */
function metadataHostOf(option: string | undefined): { value: string; source: string } {
  const fromOption = option !== undefined;
  const value = fromOption ? option : process.env[GCE_METADATA_HOST] || DEFAULT_METADATA_HOST;
  const source = fromOption
    ? "options.metadataHost"
    : process.env[GCE_METADATA_HOST]
      ? GCE_METADATA_HOST
      : "the default";
  let url: URL | undefined;
  if (typeof value === "string" && /^[A-Za-z0-9.\-[\]:]+$/.test(value)) {
    try {
      url = new URL(`http://${value}`);
    } catch {}
  }
  // The URL drops an explicit default port (":80"), which the variable may hold.
  const explicitDefaultPort = url !== undefined && `${url.host}:80` === value.toLowerCase();
  if (
    url === undefined ||
    (url.host !== value.toLowerCase() && !explicitDefaultPort) ||
    url.pathname !== "/"
  ) {
    throw invalid(
      `${source} must be the metadata server's host[:port] without a scheme, such as metadata.google.internal or 127.0.0.1:8080, got ${JSON.stringify(String(value).slice(0, 100))}.`,
    );
  }
  if (!isLoopbackHostname(url.hostname) && !isMetadataHostname(url.hostname)) {
    throw invalid(
      `${source} names ${url.hostname}, which is neither metadata.google.internal, a link-local address (169.254.x.x) nor a loopback host: the metadata server speaks plain http, which fedcred sends nowhere else.`,
    );
  }
  return { value: url.host, source };
}

/** GETs `url`, trying again on 429 and 5xx; network failures mean "not on Google Cloud". */
function send(
  transport: Transport,
  url: string,
  server: string,
  source: string,
  signal: AbortSignal | undefined,
  timeoutInMs: number,
): Promise<{ response: HttpResponse; attempts: number }> {
  return sendWithRetries(
    transport,
    {
      url,
      method: "GET",
      headers: { "metadata-flavor": "Google" },
      signal,
      timeoutInMs,
      maxBodyBytes: MAX_BODY_BYTES,
      metadataService: true,
      urlSource: source === "the default" ? GCE_METADATA_HOST : source,
    },
    {
      maxAttempts: MAX_ATTEMPTS,
      retryStatus: (status) => TRANSIENT.has(status),
      delayInMs: (attempt) => RETRY_DELAY_MS * 2 ** (attempt - 1),
      describeTransportFailure: (error) => describeTransportFailure(error, server, source),
      checkResponse: (response) => {
        if (response.headers.get("metadata-flavor") !== "Google") {
          throw new CredentialUnavailableError(
            `Something other than a GCP metadata server answered at ${server} (HTTP ${response.status} without Metadata-Flavor: Google): this does not run on Google Cloud, or ${source === "the default" ? GCE_METADATA_HOST : source} names the wrong host.`,
            "assertion_unavailable",
          );
        }
      },
    },
  );
}

function describeTransportFailure(error: unknown, server: string, source: string): Error {
  const code = (error as { code?: unknown })?.code;
  if (isRetryableTransportError(error)) {
    return new CredentialUnavailableError(
      `No GCP metadata server answered at ${server}: this does not run on Google Cloud (Compute Engine, GKE, Cloud Run, Cloud Functions)${source === "the default" ? `, or set ${GCE_METADATA_HOST}` : `, or ${source} names the wrong host`}. ${(error as Error).message}`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  if (code === "redirect_refused") {
    return new CredentialUnavailableError(
      `Something other than a GCP metadata server answered at ${server} with a redirect, which fedcred never follows: this does not run on Google Cloud, or ${source === "the default" ? GCE_METADATA_HOST : source} names the wrong host.`,
      "assertion_unavailable",
      { cause: error },
    );
  }
  if (code === "invalid_configuration") return error as Error;
  return new AuthenticationError(
    `The GCP metadata server at ${server} did not give an identity token: ${(error as Error)?.message ?? String(error)}`,
    "assertion_failed",
    { cause: error },
  );
}

/** The server's text for an error message: short, on one line, anything JWT-shaped redacted. */
function said(body: string): string {
  const text = quoteServerText(body, { maxChars: 200 });
  return text === "" ? "" : ` It said: ${JSON.stringify(text)}.`;
}

/** The identity token of a 200 answer, checked; a refusal explained. */
function identityToken(
  { response, attempts }: { response: HttpResponse; attempts: number },
  server: string,
  serviceAccount: string,
  audience: string,
): string {
  const account = serviceAccount === "default" ? "the default service account" : serviceAccount;
  if (response.status !== 200) {
    // A refusal never holds a token: its text helps.
    const hint =
      response.status === 404
        ? ` No such service account is attached to this workload: attach one (or, on GKE, bind the Kubernetes service account through Workload Identity Federation for GKE), or check options.serviceAccount.`
        : response.status === 403
          ? " The metadata server forbade it: check that this workload may use the service account (on GKE, the Workload Identity binding)."
          : "";
    throw new AuthenticationError(
      `The GCP metadata server at ${server} refused an identity token of ${account} for audience ${audience} (HTTP ${response.status}${attempts > 1 ? `, after ${attempts} attempts` : ""}).${hint}${said(response.body)}`,
      "assertion_failed",
      { statusCode: response.status },
    );
  }
  const check = checkSourceJwt(response.body, { requireSignature: true });
  if (check.problem === "expired") {
    throw new AuthenticationError(
      `The GCP metadata server at ${server} gave an identity token that expired at ${new Date(check.expiresOnTimestamp).toISOString()}: check this machine's clock.`,
      "assertion_failed",
    );
  }
  if (check.problem !== undefined || check.expiresOnTimestamp === undefined) {
    throw new AuthenticationError(
      `The GCP metadata server at ${server} answered 200 with something that is not an identity token (a JWT with exp) for ${account}.`,
      "assertion_failed",
    );
  }
  return check.token;
}
