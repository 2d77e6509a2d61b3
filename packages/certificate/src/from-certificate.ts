import { constants, type KeyObject, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  type JwtClaims,
  logger,
} from "@fedcred/core";
import {
  type CertificateDescription,
  describeCertificate,
  describeSentCertificate,
} from "./certificate-description.js";
import { readMaterial } from "./certificate-material.js";
import { invalidConfiguration } from "./configuration-error.js";
import {
  AZURE_CLIENT_CERTIFICATE_PASSWORD,
  AZURE_CLIENT_CERTIFICATE_PATH,
  AZURE_CLIENT_SEND_CERTIFICATE_CHAIN,
} from "./environment.js";

/**
 * Options of {@link fromCertificate}: where the certificate and its key are, and how to sign.
 * `certificatePath` or `certificate` (or `AZURE_CLIENT_CERTIFICATE_PATH`) is required.
 *
 * @example
 * ```ts
 * import type { FromCertificateOptions } from "@fedcred/certificate";
 *
 * const options: FromCertificateOptions = {
 *   certificatePath: "/etc/billing/cert.pfx",
 *   password: process.env.CERT_PASSWORD,
 *   sendCertificateChain: true,
 * };
 * ```
 */
export interface FromCertificateOptions {
  /**
   * A file holding the certificate and its key: a PEM bundle (the certificate, optionally its
   * chain, and the private key) or a PKCS#12 file (`.pfx`, `.p12`). Read once, at the factory.
   * Default: `AZURE_CLIENT_CERTIFICATE_PATH`. Not with `certificate`.
   */
  certificatePath?: string;
  /**
   * The certificate itself: PEM text or bytes (a bundle as above, or the certificate alone with
   * `privateKey`), DER bytes of the certificate (with `privateKey`), or the bytes of a PKCS#12
   * file (or their base64, as Key Vault hands out a certificate's secret). Not with
   * `certificatePath`.
   */
  certificate?: string | Uint8Array;
  /**
   * The private key, when the certificate input holds none: PEM (PKCS#8 or PKCS#1, encrypted
   * or not), DER bytes (PKCS#8 or PKCS#1), or a `KeyObject`.
   */
  privateKey?: string | Uint8Array | KeyObject;
  /**
   * The password of a PKCS#12 file or of an encrypted PEM key. Default:
   * `AZURE_CLIENT_CERTIFICATE_PASSWORD`.
   */
  password?: string;
  /** `@azure/identity`'s name for `password`, accepted so migrated code compiles. */
  certificatePassword?: string;
  /**
   * `PS256` (default; names the certificate by its SHA-256 thumbprint, header `x5t#S256`) or
   * `RS256` (SHA-1 thumbprint, header `x5t`), as older clients sign.
   */
  algorithm?: "PS256" | "RS256";
  /**
   * Sends the certificate and the chain the input holds in the `x5c` header, leaf first: needed
   * when the app trusts a subject name and issuer rather than a registered certificate. Default:
   * `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` (`true` or `1`), else `false`.
   */
  sendCertificateChain?: boolean;
  /** How long each signed assertion is valid, in whole seconds from 60 to 3600. Default 600. */
  lifetimeSeconds?: number;
}

/**
 * The assertion function {@link fromCertificate} returns: an `AssertionFunc` that also says
 * which certificate it signs with.
 *
 * @example
 * ```ts
 * import { type CertificateAssertionFunc, fromCertificate } from "@fedcred/certificate";
 *
 * const getAssertion: CertificateAssertionFunc = fromCertificate({ certificatePath: "/etc/app/cert.pem" });
 * console.log(getAssertion.certificate.thumbprintSha1);
 * ```
 */
export type CertificateAssertionFunc = AssertionFunc & {
  /** The certificate it signs with: subject, validity, thumbprints. Nothing secret. */
  readonly certificate: CertificateDescription;
};

const DEFAULT_LIFETIME_SECONDS = 600;
const MIN_LIFETIME_SECONDS = 60;
/** Entra publishes no limit on `exp`, but asks for short-lived assertions: an hour is fedcred's. */
const MAX_LIFETIME_SECONDS = 3600;
/** A signed assertion is reused until this long before its `exp` (at most a fifth of its lifetime). */
const REUSE_MARGIN_SECONDS = 120;
/** How many token endpoints (tenants, clouds) keep a signed assertion at once. */
const MAX_ENDPOINTS = 100;
const EXPIRY_WARNING_MS = 30 * 24 * 3600_000;
const ALGORITHMS = ["PS256", "RS256"] as const;

/** AADSTS700027: the signature or key is not registered; 700023: `aud` is not the endpoint called. */
const KEY_NOT_REGISTERED = 700027;
const AUDIENCE_NOT_ENDPOINT = 700023;

/**
 * A client assertion signed with the app's certificate, as Entra ID's certificate credentials
 * take it: the job of `@azure/identity`'s `ClientCertificateCredential`, for
 * `@fedcred/core`'s `ClientAssertionCredential`. The certificate and key are read and checked
 * once, here; the key stays in a `KeyObject` that nothing prints.
 *
 * Each assertion has `aud` = the token endpoint the credential is about to call, `iss` = `sub`
 * = the client id, a fresh `jti`, `iat`, `nbf` and `exp`. It is reused for the same endpoint
 * until 2 minutes (at most a fifth of its lifetime) before `exp`, and signed anew after that and
 * when Entra said the last one expired (`context.forceRefresh`): a long-running process never
 * sends an expired assertion.
 *
 * @throws {@link CredentialUnavailableError} at once: `missing_configuration` when no
 *   certificate is given; `invalid_configuration` naming what is wrong (not a certificate, no
 *   private key, a key that does not belong to the certificate, a wrong or missing password, a
 *   key other than RSA of 2048 bits or more, an expired certificate, a bad option). A certificate
 *   that expires within 30 days is a logged warning. Calls reject with `AuthenticationError`
 *   (`assertion_failed`) once the certificate has expired.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromCertificate } from "@fedcred/certificate";
 *
 * const credential = new ClientAssertionCredential(tenantId, clientId,
 *   fromCertificate({ certificatePath: "/etc/billing/cert.pem" }));
 * ```
 */
export function fromCertificate(options: FromCertificateOptions = {}): CertificateAssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw invalidConfiguration("fromCertificate takes an options object, or nothing.");
  }
  const env = process.env;
  const algorithm = options.algorithm ?? "PS256";
  if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw invalidConfiguration(
      `options.algorithm must be "PS256" (the default) or "RS256", got ${JSON.stringify(algorithm)}.`,
    );
  }
  const lifetimeSeconds = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  if (
    !Number.isInteger(lifetimeSeconds) ||
    lifetimeSeconds < MIN_LIFETIME_SECONDS ||
    lifetimeSeconds > MAX_LIFETIME_SECONDS
  ) {
    throw invalidConfiguration(
      `options.lifetimeSeconds must be a whole number of seconds from ${MIN_LIFETIME_SECONDS} to ${MAX_LIFETIME_SECONDS}, got ${String(lifetimeSeconds)}. Entra asks for short-lived certificate assertions; 600 (the default) is what MSAL signs.`,
    );
  }
  const sendCertificateChain =
    options.sendCertificateChain ?? envFlag(env[AZURE_CLIENT_SEND_CERTIFICATE_CHAIN]);
  if (typeof sendCertificateChain !== "boolean") {
    throw invalidConfiguration("options.sendCertificateChain must be true or false.");
  }
  // The environment's password goes with the environment's certificate only, as
  // EnvironmentCredential pairs them: never with a certificate given in the options.
  const certificateFromEnvironment =
    options.certificatePath === undefined && options.certificate === undefined;
  const password = passwordOf(
    options,
    certificateFromEnvironment ? env[AZURE_CLIENT_CERTIFICATE_PASSWORD] : undefined,
  );
  const { bytes, source } = certificateInput(options, env[AZURE_CLIENT_CERTIFICATE_PATH]);
  const { certificate, chain, privateKey } = (() => {
    try {
      return readMaterial({ bytes, source, privateKey: options.privateKey, password });
    } finally {
      bytes.fill(0);
    }
  })();
  const description = describeCertificate(
    certificate,
    algorithm,
    sendCertificateChain ? chain.length : 0,
  );
  const notAfter = Date.parse(description.notAfter);
  checkValidity(description, source);

  const header = base64url(
    JSON.stringify({
      alg: algorithm,
      typ: "JWT",
      [description.thumbprintHeader.name]: description.thumbprintHeader.value,
      ...(sendCertificateChain ? { x5c: chain.map((link) => link.raw.toString("base64")) } : {}),
    }),
  );
  const margin = Math.min(REUSE_MARGIN_SECONDS, lifetimeSeconds / 5);
  const signed = new Map<string, { assertion: string; reuseUntil: number }>();

  const getAssertion = (context: AssertionContext): string => {
    const tokenEndpoint = context?.tokenEndpoint;
    if (typeof tokenEndpoint !== "string" || tokenEndpoint === "") {
      throw invalidConfiguration(
        "fromCertificate's assertion needs the token endpoint it is for (its aud): use it with ClientAssertionCredential of @fedcred/core, which passes it, or call it with { tokenEndpoint, clientId }.",
      );
    }
    if (typeof context.clientId !== "string" || context.clientId === "") {
      throw invalidConfiguration(
        "fromCertificate's assertion needs the client id (its iss and sub).",
      );
    }
    const now = Date.now();
    if (now >= notAfter) {
      throw new AuthenticationError(
        `The certificate ${description.subject} (SHA-1 thumbprint ${description.thumbprintSha1}) expired at ${description.notAfter}: Entra ID refuses assertions it signs. Renew it, register the new one on the app, and restart with it.`,
        "assertion_failed",
      );
    }
    // iss and sub are the client id: one credential's assertion never serves another app.
    const key = `${context.clientId}\u0000${tokenEndpoint}`;
    const kept = signed.get(key);
    if (kept !== undefined && !context.forceRefresh && now < kept.reuseUntil) {
      return kept.assertion;
    }
    const assertion = signAssertion(header, privateKey, algorithm, {
      audience: tokenEndpoint,
      clientId: context.clientId,
      now,
      lifetimeSeconds,
    });
    signed.delete(key);
    if (signed.size >= MAX_ENDPOINTS) {
      const oldest = signed.keys().next().value;
      if (oldest !== undefined) signed.delete(oldest);
    }
    const issuedAt = Math.floor(now / 1000);
    signed.set(key, {
      assertion,
      reuseUntil: (issuedAt + lifetimeSeconds - margin) * 1000,
    });
    return assertion;
  };
  // The credential appends this to Entra's refusals: the certificate's side, nothing secret.
  const describeRefusal = (
    codes: readonly number[],
    claims: JwtClaims | undefined,
  ): string | undefined => {
    if (codes.includes(KEY_NOT_REGISTERED)) return describeSentCertificate(description);
    if (codes.includes(AUDIENCE_NOT_ENDPOINT) && typeof claims?.aud === "string") {
      return `The assertion's aud was ${claims.aud}, the token endpoint of the authority host: Entra ID wants the exact URL it received the request at. A proxy or gateway in between (options.tokenProxy, a fetch or httpClient that sends elsewhere) makes them differ; send certificate assertions to the authority host itself.`;
    }
    return undefined;
  };
  return Object.defineProperties(getAssertion, {
    certificate: { value: description, enumerable: true },
    describeRefusal: { value: describeRefusal },
  }) as CertificateAssertionFunc;
}

/** What the factory reads: `certificatePath`, `certificate`, or `AZURE_CLIENT_CERTIFICATE_PATH`. */
function certificateInput(
  options: FromCertificateOptions,
  envPath: string | undefined,
): { bytes: Buffer; source: string } {
  const { certificatePath, certificate } = options;
  if (certificatePath !== undefined && certificate !== undefined) {
    throw invalidConfiguration(
      "Pass either options.certificatePath or options.certificate, not both.",
    );
  }
  if (certificate !== undefined)
    return { bytes: certificateBytes(certificate), source: "options.certificate" };
  const [path, name] =
    certificatePath !== undefined
      ? [certificatePath, "options.certificatePath"]
      : [envPath || undefined, AZURE_CLIENT_CERTIFICATE_PATH];
  if (path === undefined) {
    throw new CredentialUnavailableError(
      `fromCertificate needs a certificate: pass options.certificatePath (a PEM or PKCS#12 file), options.certificate, or set ${AZURE_CLIENT_CERTIFICATE_PATH}.`,
      "missing_configuration",
    );
  }
  if (typeof path !== "string" || path.trim() === "") {
    throw invalidConfiguration(`${name} must be the path of a PEM or PKCS#12 file.`);
  }
  const source = `${name} (${path})`;
  try {
    return { bytes: readFileSync(path), source };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalidConfiguration(
      `${source} cannot be read (${code ?? (error as Error).message}): check the path and this process's permission to read it.`,
    );
  }
}

function certificateBytes(certificate: string | Uint8Array): Buffer {
  if (certificate instanceof Uint8Array) return Buffer.from(certificate);
  if (typeof certificate !== "string" || certificate.trim() === "") {
    throw invalidConfiguration(
      "options.certificate must be PEM text, or the bytes of a PEM, DER or PKCS#12 file.",
    );
  }
  if (certificate.includes("-----BEGIN ")) return Buffer.from(certificate, "utf8");
  const compact = certificate.replace(/\s+/g, "");
  // Key Vault hands out a certificate's secret (a PKCS#12 file) as base64.
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact) && compact.length % 4 === 0) {
    return Buffer.from(compact, "base64");
  }
  throw invalidConfiguration(
    `options.certificate is not PEM (-----BEGIN CERTIFICATE-----) nor base64${certificate.length < 1024 && /[\\/.]/.test(certificate) ? ": is it a path? Pass it as options.certificatePath" : ""}.`,
  );
}

function passwordOf(
  options: FromCertificateOptions,
  envPassword: string | undefined,
): string | undefined {
  const { password, certificatePassword } = options;
  if (
    password !== undefined &&
    certificatePassword !== undefined &&
    password !== certificatePassword
  ) {
    throw invalidConfiguration(
      "options.password and options.certificatePassword are both set, to different values: set one.",
    );
  }
  const value = password ?? certificatePassword ?? (envPassword || undefined);
  if (value !== undefined && typeof value !== "string") {
    throw invalidConfiguration("options.password must be a string.");
  }
  return value;
}

/** As `@azure/identity` reads `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`: `true` or `1`, any case. */
function envFlag(value: string | undefined): boolean {
  const flag = (value ?? "").trim().toLowerCase();
  return flag === "true" || flag === "1";
}

function checkValidity(description: CertificateDescription, source: string): void {
  const now = Date.now();
  const named = `${source}: the certificate ${description.subject} (SHA-1 thumbprint ${description.thumbprintSha1})`;
  if (Date.parse(description.notAfter) <= now) {
    throw invalidConfiguration(
      `${named} expired at ${description.notAfter}: Entra ID refuses it. Renew it, register the new one on the app, and use that.`,
    );
  }
  if (Date.parse(description.notAfter) - now < EXPIRY_WARNING_MS) {
    logger.warning(
      `fromCertificate: ${named} expires at ${description.notAfter}, in less than 30 days: renew it and register the new one on the app before then.`,
    );
  }
  if (Date.parse(description.notBefore) > now) {
    logger.warning(
      `fromCertificate: ${named} is not valid before ${description.notBefore}: Entra ID may refuse it until then (or this machine's clock is behind).`,
    );
  }
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

/** Signs one assertion: PS256 is RSASSA-PSS with SHA-256 and a 32-byte salt, RS256 PKCS#1 v1.5. */
function signAssertion(
  header: string,
  privateKey: KeyObject,
  algorithm: "PS256" | "RS256",
  claims: { audience: string; clientId: string; now: number; lifetimeSeconds: number },
): string {
  const issuedAt = Math.floor(claims.now / 1000);
  const payload = base64url(
    JSON.stringify({
      aud: claims.audience,
      iss: claims.clientId,
      sub: claims.clientId,
      jti: randomUUID(),
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + claims.lifetimeSeconds,
    }),
  );
  const signingInput = `${header}.${payload}`;
  const signature = sign(
    "sha256",
    Buffer.from(signingInput),
    algorithm === "PS256"
      ? {
          key: privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }
      : privateKey,
  );
  return `${signingInput}.${signature.toString("base64url")}`;
}
