import {
  type AccessToken,
  AuthenticationError,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  type GetTokenOptions,
} from "@fedcred/core";
import { describeSentCertificate } from "./certificate-description.js";
import {
  type FromCertificateOptions,
  fromCertificate,
  type ProviderDetails,
  providerDetails,
} from "./from-certificate.js";

/**
 * Options of {@link certificateCredential}: the certificate options of {@link fromCertificate}
 * and the credential options of `@fedcred/core`'s `ClientAssertionCredential`, together.
 *
 * @example
 * ```ts
 * import type { CertificateCredentialOptions } from "@fedcred/certificate";
 *
 * const options: CertificateCredentialOptions = {
 *   certificatePath: "/etc/billing/cert.pem",
 *   sendCertificateChain: true,
 *   authorityHost: "https://login.microsoftonline.us",
 * };
 * ```
 */
export type CertificateCredentialOptions = FromCertificateOptions &
  ClientAssertionCredentialOptions;

/** The options that are {@link fromCertificate}'s; the others go to the credential. */
const CERTIFICATE_OPTIONS = [
  "certificatePath",
  "certificate",
  "privateKey",
  "password",
  "certificatePassword",
  "algorithm",
  "sendCertificateChain",
  "lifetimeSeconds",
] as const satisfies readonly (keyof FromCertificateOptions)[];

/** AADSTS700027: the signature or key is not registered; 700023: `aud` is not the endpoint called. */
const KEY_NOT_REGISTERED = 700027;
const AUDIENCE_NOT_ENDPOINT = 700023;

/**
 * A `ClientAssertionCredential` whose refusals say which certificate the assertion named. Its
 * only difference from its base: an AADSTS700027 or 700023 error gets the certificate's
 * thumbprints, `x5c`, subject and validity, or the audience, added to its message.
 */
class CertificateCredential extends ClientAssertionCredential {
  readonly #details: ProviderDetails;

  constructor(
    tenantId: string,
    clientId: string,
    getAssertion: ReturnType<typeof fromCertificate>,
    details: ProviderDetails,
    options: ClientAssertionCredentialOptions,
  ) {
    super(tenantId, clientId, getAssertion, options);
    this.#details = details;
  }

  /** The explaining promise of each promise the base returned: a cached token's is made once. */
  readonly #explaining = new WeakMap<Promise<AccessToken>, Promise<AccessToken>>();

  override getToken(
    scopes: string | string[],
    options?: GetTokenOptions | null,
  ): Promise<AccessToken> {
    const promise = super.getToken(scopes, options);
    let explaining = this.#explaining.get(promise);
    if (explaining === undefined) {
      explaining = promise.catch((error: unknown) => {
        throw explainRefusal(error, this.#details);
      });
      this.#explaining.set(promise, explaining);
    }
    return explaining;
  }
}

/** `error` with the certificate's side of a 700027 or 700023 refusal added to its message. */
function explainRefusal(error: unknown, details: ProviderDetails): unknown {
  if (!AuthenticationError.isInstance(error)) return error;
  const codes = error.errorResponse?.errorCodes ?? [];
  let detail: string | undefined;
  if (codes.includes(KEY_NOT_REGISTERED)) {
    detail = describeSentCertificate(details.description);
  } else if (codes.includes(AUDIENCE_NOT_ENDPOINT) && details.lastAudience !== undefined) {
    detail = `The assertion's aud was ${details.lastAudience}, the token endpoint of the authority host: Entra ID wants the exact URL it received the request at. A proxy or gateway in between (options.tokenProxy, a fetch or httpClient that sends elsewhere) makes them differ; send certificate assertions to the authority host itself.`;
  }
  if (detail === undefined) return error;
  return new AuthenticationError(`${error.message} ${detail}`, error.code, {
    statusCode: error.statusCode,
    errorResponse: error.errorResponse,
    clientRequestId: error.clientRequestId,
    retryAfterInMs: error.retryAfterInMs,
    cause: error,
  });
}

/**
 * The ready credential for an app that authenticates with a certificate: a
 * `ClientAssertionCredential` of `@fedcred/core` over {@link fromCertificate}, taking the
 * certificate options and the credential options together. A drop-in for `@azure/identity`'s
 * `ClientCertificateCredential`, usable by every Azure SDK client. Its AADSTS700027 errors say
 * which certificate (thumbprints, `x5c`, subject, validity) the assertion named.
 *
 * @throws {@link CredentialUnavailableError} at once, as {@link fromCertificate} and the
 *   credential's constructor do, naming the option that is wrong.
 *
 * @example
 * ```ts
 * import { certificateCredential } from "@fedcred/certificate";
 * import { SecretClient } from "@azure/keyvault-secrets";
 *
 * const credential = certificateCredential(tenantId, clientId, {
 *   certificatePath: "/etc/billing/cert.pfx",
 *   password: process.env.CERT_PASSWORD,
 * });
 * const secrets = new SecretClient("https://vault-name.vault.azure.net", credential);
 * ```
 */
export function certificateCredential(
  tenantId: string,
  clientId: string,
  options: CertificateCredentialOptions = {},
): ClientAssertionCredential {
  const credentialOptions: Record<string, unknown> = { ...options };
  const certificateOptions: Record<string, unknown> = {};
  for (const name of CERTIFICATE_OPTIONS) {
    certificateOptions[name] = credentialOptions[name];
    delete credentialOptions[name];
  }
  const getAssertion = fromCertificate(certificateOptions);
  const details = providerDetails(getAssertion) as ProviderDetails;
  return new CertificateCredential(
    tenantId,
    clientId,
    getAssertion,
    details,
    credentialOptions as ClientAssertionCredentialOptions,
  );
}
