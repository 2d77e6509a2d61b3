import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { invalidConfiguration } from "./configuration-error.js";
import { readPkcs12 } from "./pkcs12.js";

/** The certificate to sign with, its chain and its private key, checked. */
export interface CertificateMaterial {
  /** The certificate whose key signs (the leaf). */
  certificate: X509Certificate;
  /** The leaf, then each issuer found in the input, in order: the `x5c` header. */
  chain: X509Certificate[];
  privateKey: KeyObject;
}

/** Where the certificate came from and what came with it. */
export interface MaterialInput {
  /** The contents of `certificatePath` or `certificate`. */
  bytes: Buffer;
  /** Names the input in messages, such as `options.certificatePath (/etc/app/cert.pem)`. */
  source: string;
  privateKey: string | Uint8Array | KeyObject | undefined;
  password: string | undefined;
}

/** Entra ID refuses smaller RSA keys (AADSTS700027). */
export const MIN_RSA_BITS = 2048;

const PEM_BEGIN = /-----BEGIN ([A-Z0-9 ]{1,64})-----/g;

interface PemBlock {
  label: string;
  text: string;
}

/**
 * The PEM blocks of `text`, in one pass: each BEGIN is matched with the next END of its label,
 * and an unterminated block ends the scan (no rescanning, whatever the input).
 */
function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  PEM_BEGIN.lastIndex = 0;
  for (;;) {
    const begin = PEM_BEGIN.exec(text);
    if (begin === null) break;
    const label = begin[1] as string;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, begin.index + begin[0].length);
    if (end === -1) break;
    blocks.push({ label, text: text.slice(begin.index, end + endMarker.length) });
    PEM_BEGIN.lastIndex = end + endMarker.length;
  }
  return blocks;
}

/** What is wrong with a PEM text that holds no usable certificate block, when it can be told. */
function pemShapeHint(text: string): string {
  if (/-----BEGIN [A-Z ]+-----\\n/.test(text)) {
    return ": its line breaks are literal \\n sequences (as stored in some environment variables or JSON); turn them back into line breaks";
  }
  if (text.includes("-----BEGIN TRUSTED CERTIFICATE-----")) {
    return ": it holds a TRUSTED CERTIFICATE (OpenSSL's -trustout form); export a plain CERTIFICATE (openssl x509 -in cert.pem -out plain.pem)";
  }
  return "";
}

function isPem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("-----BEGIN ");
}

/**
 * Reads the certificate, its chain and its key from a PEM bundle, a PEM or DER certificate with
 * a separate key, or a PKCS#12 file, and checks that Entra ID can take them: an RSA key of at
 * least 2048 bits that belongs to the certificate. Dates are checked by the caller.
 */
export function readMaterial(input: MaterialInput): CertificateMaterial {
  const { bytes, source } = input;
  let certificates: X509Certificate[];
  let privateKeys: KeyObject[];
  if (isPem(bytes)) {
    const text = bytes.toString("utf8");
    const blocks = pemBlocks(text);
    certificates = blocks
      .filter((block) => block.label === "CERTIFICATE")
      .map((block) => parseCertificate(block.text, source));
    const keyBlocks = blocks.filter((block) => block.label.endsWith("PRIVATE KEY"));
    if (certificates.length === 0) {
      throw invalidConfiguration(
        `${source} holds no certificate (no complete -----BEGIN CERTIFICATE----- block)${pemShapeHint(text) || (keyBlocks.length > 0 ? ", only a private key: add the certificate" : "")}.`,
      );
    }
    if (keyBlocks.length > 1) {
      throw invalidConfiguration(
        `${source} holds ${keyBlocks.length} private keys: keep only the certificate's own.`,
      );
    }
    const [keyBlock] = keyBlocks;
    if (keyBlock !== undefined && input.privateKey !== undefined) {
      throw invalidConfiguration(
        `${source} holds a private key, and options.privateKey is set too: pass one of them.`,
      );
    }
    privateKeys =
      keyBlock !== undefined
        ? [parsePrivateKey(keyBlock.text, input.password, source)]
        : keyOption(input, source);
  } else {
    const der = derCertificate(bytes);
    if (der !== undefined) {
      certificates = [der];
      privateKeys = keyOption(input, `${source} (a DER certificate)`);
    } else {
      if (input.privateKey !== undefined) {
        // Only a PKCS#12 file can get here; it brings its own key.
        readPkcs12(Buffer.from(bytes), input.password, source);
        throw invalidConfiguration(
          `${source} is a PKCS#12 file, which holds its own private key: drop options.privateKey.`,
        );
      }
      ({ certificates, privateKeys } = readPkcs12(Buffer.from(bytes), input.password, source));
      if (certificates.length === 0) {
        throw invalidConfiguration(`${source} is a PKCS#12 file without a certificate.`);
      }
      if (privateKeys.length === 0) {
        throw invalidConfiguration(
          `${source} is a PKCS#12 file without a private key: export it again with its private key.`,
        );
      }
    }
  }
  for (const key of privateKeys) checkKeyType(key, source);
  const pair = matchingPair(certificates, privateKeys, source);
  checkKeySize(pair.privateKey, source);
  return { ...pair, chain: chainOf(pair.certificate, certificates) };
}

function parseCertificate(value: string | Buffer, source: string): X509Certificate {
  try {
    return new X509Certificate(value);
  } catch {
    throw invalidConfiguration(
      `${source} holds a certificate block that is not a valid X.509 certificate${typeof value === "string" ? pemShapeHint(value) : ""}.`,
    );
  }
}

/** A DER-encoded certificate, or `undefined` for anything else (a PKCS#12 file, say). */
function derCertificate(bytes: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(bytes);
  } catch {
    return undefined;
  }
}

/** The key from `options.privateKey`, which a certificate without its own key needs. */
function keyOption(input: MaterialInput, source: string): KeyObject[] {
  if (input.privateKey === undefined) {
    throw invalidConfiguration(
      `${source} holds no private key: add it to the PEM file (-----BEGIN PRIVATE KEY-----), pass options.privateKey, or use a PKCS#12 (.pfx) file with the key.`,
    );
  }
  return [parsePrivateKey(input.privateKey, input.password, "options.privateKey")];
}

function isKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as KeyObject).type === "string" &&
    typeof (value as KeyObject).export === "function"
  );
}

/** A private key from PEM text, DER bytes (PKCS#8, encrypted or not, or PKCS#1) or a `KeyObject`. */
function parsePrivateKey(
  value: string | Uint8Array | KeyObject,
  password: string | undefined,
  source: string,
): KeyObject {
  if (typeof value !== "string" && !(value instanceof Uint8Array) && !isKeyObject(value)) {
    const webCrypto = typeof value === "object" && value !== null && "algorithm" in value;
    throw invalidConfiguration(
      `${source} must be PEM text, DER bytes or a KeyObject${webCrypto ? " (a WebCrypto CryptoKey converts with KeyObject.from(key), if it is extractable)" : ""}, got ${value === null ? "null" : typeof value}.`,
    );
  }
  if (isKeyObject(value)) {
    if (value.type !== "private") {
      throw invalidConfiguration(`${source} is a ${value.type} key: pass the private key.`);
    }
    return value;
  }
  const pem =
    typeof value === "string"
      ? value
      : isPem(value)
        ? Buffer.from(value).toString("utf8")
        : undefined;
  if (pem !== undefined) {
    if (!pem.includes("-----BEGIN ")) {
      throw invalidConfiguration(
        `${source} is not a PEM private key (-----BEGIN PRIVATE KEY-----).`,
      );
    }
    const encrypted = pem.includes("ENCRYPTED");
    if (encrypted && password === undefined) throw missingPassword(source);
    return createKey(source, password, () =>
      createPrivateKey({ key: pem, format: "pem", ...(encrypted ? { passphrase: password } : {}) }),
    );
  }
  const der = Buffer.from(value);
  return createKey(source, password, () => {
    try {
      return createPrivateKey({
        key: der,
        format: "der",
        type: "pkcs8",
        ...(password !== undefined ? { passphrase: password } : {}),
      });
    } catch (error) {
      // Not PKCS#8 (a password problem is, and stays, the error): perhaps PKCS#1.
      if (PASSWORD_ERRORS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
      try {
        return createPrivateKey({ key: der, format: "der", type: "pkcs1" });
      } catch {
        throw error;
      }
    }
  });
}

const PASSWORD_ERRORS = new Set([
  "ERR_MISSING_PASSPHRASE",
  "ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED",
  "ERR_OSSL_BAD_DECRYPT",
]);

/** Runs `create`, turning Node's errors (which hold no key) into ones that say what to do. */
function createKey(
  source: string,
  password: string | undefined,
  create: () => KeyObject,
): KeyObject {
  try {
    return create();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code === "ERR_MISSING_PASSPHRASE" || code === "ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED") {
      throw missingPassword(source);
    }
    if (code === "ERR_OSSL_BAD_DECRYPT" || (password !== undefined && /decrypt/i.test(code))) {
      throw invalidConfiguration(
        `${source} is an encrypted private key that the password given does not decrypt: check options.password (or AZURE_CLIENT_CERTIFICATE_PASSWORD).`,
      );
    }
    throw invalidConfiguration(
      `${source} is not a private key that can be read${code ? ` (${code})` : ""}.`,
    );
  }
}

function missingPassword(source: string): Error {
  return invalidConfiguration(
    `${source} is an encrypted private key: pass its password as options.password (or set AZURE_CLIENT_CERTIFICATE_PASSWORD).`,
  );
}

/** What kind of key this is, for messages: `ec (prime256v1)`, `ed25519`, `rsa (1024 bits)`. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  if (details.namedCurve) return `${key.asymmetricKeyType} (${details.namedCurve})`;
  if (details.modulusLength) return `${key.asymmetricKeyType} (${details.modulusLength} bits)`;
  return String(key.asymmetricKeyType);
}

function checkKeyType(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType === "rsa") return;
  throw invalidConfiguration(
    `${source} holds an ${describeKey(key)} private key: Entra ID accepts only RSA keys for certificate credentials (signed PS256 or RS256). Create an RSA certificate of ${MIN_RSA_BITS} bits or more, register it on the app, and use it here.`,
  );
}

function checkKeySize(key: KeyObject, source: string): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits >= MIN_RSA_BITS) return;
  throw invalidConfiguration(
    `${source} holds an RSA key of ${bits} bits: Entra ID refuses RSA keys under ${MIN_RSA_BITS} bits (AADSTS700027). Create a certificate with a ${MIN_RSA_BITS}-bit (or larger) key.`,
  );
}

/** The certificate the key belongs to, and that key. */
function matchingPair(
  certificates: X509Certificate[],
  privateKeys: KeyObject[],
  source: string,
): { certificate: X509Certificate; privateKey: KeyObject } {
  for (const privateKey of privateKeys) {
    const certificate = certificates.find((candidate) => candidate.checkPrivateKey(privateKey));
    if (certificate !== undefined) return { certificate, privateKey };
  }
  const subjects = certificates.map(
    (certificate) =>
      `${displayName(certificate.subject)} (SHA-1 thumbprint ${hex(certificate.fingerprint)})`,
  );
  throw invalidConfiguration(
    `${source}: the private key does not belong to ${subjects.length === 1 ? "the certificate" : `any of the ${subjects.length} certificates`}, ${subjects.join(", ")}. Pass the key the certificate was issued for.`,
  );
}

/** The leaf, then its issuer, its issuer's issuer...: as many as the input holds, in order. */
function chainOf(leaf: X509Certificate, certificates: X509Certificate[]): X509Certificate[] {
  const chain = [leaf];
  let current = leaf;
  for (;;) {
    if (current.checkIssued(current)) break; // self-signed: the top
    const issuer = certificates.find(
      (candidate) => !chain.includes(candidate) && current.checkIssued(candidate),
    );
    if (issuer === undefined) break;
    chain.push(issuer);
    current = issuer;
  }
  return chain;
}

/** A distinguished name on one line, as the portal shows it: `CN=billing, O=Contoso`. */
export function displayName(name: string): string {
  return name.split("\n").join(", ");
}

/** Node's `AB:CD:...` fingerprint as upper-case hex without colons, as the portal shows it. */
export function hex(fingerprint: string): string {
  return fingerprint.replaceAll(":", "").toUpperCase();
}
