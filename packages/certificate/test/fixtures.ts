import "reflect-metadata";
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, type KeyObject, webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import forge from "node-forge";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** A generated certificate and its key, as the tests hand them to fromCertificate. */
export interface Fixture {
  certificatePem: string;
  certificateDer: Buffer;
  privateKey: KeyObject;
  /** PKCS#8 PEM of the key, unencrypted. */
  privateKeyPem: string;
  /** The `x5t` (SHA-1) and `x5t#S256` header values. */
  x5t: string;
  x5tS256: string;
  /** Signs certificates as an issuer (for CA fixtures). */
  keys: CryptoKeyPair;
  kind: KeyKind;
  certificate: x509.X509Certificate;
}

function keyAlgorithm(kind: KeyKind): RsaHashedKeyGenParams | EcKeyGenParams | { name: "Ed25519" } {
  if (kind === "ec") return { name: "ECDSA", namedCurve: "P-256" };
  if (kind === "ed25519") return { name: "Ed25519" };
  return {
    name: "RSASSA-PKCS1-v1_5",
    hash: "SHA-256",
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: kind === "rsa-1024" ? 1024 : 2048,
  };
}

type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type EcKeyGenParams = webcrypto.EcKeyGenParams;

/** How a key of `kind` signs a certificate. */
function signingAlgorithm(kind: KeyKind): { name: string; hash?: string } {
  if (kind === "ec") return { name: "ECDSA", hash: "SHA-256" };
  if (kind === "ed25519") return { name: "Ed25519" };
  return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

/** The key types a fixture may have. */
export type KeyKind = "rsa" | "rsa-1024" | "ec" | "ed25519";

export interface FixtureOptions {
  subject?: string;
  key?: KeyKind;
  notBefore?: Date;
  notAfter?: Date;
  /** The issuer; self-signed when absent. */
  issuer?: Fixture;
  /** A CA certificate (basicConstraints cA). */
  ca?: boolean;
}

/** Generates a certificate: self-signed, or issued by `issuer`. RSA 2048 unless `key` says otherwise. */
export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const kind = options.key ?? "rsa";
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm(kind), true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const subject = options.subject ?? "CN=fedcred test app";
  const issuer = options.issuer;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex"),
    subject,
    issuer: issuer ? issuer.certificate.subject : subject,
    notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * 24 * 3600_000),
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : keys.privateKey,
    signingAlgorithm: signingAlgorithm(issuer?.kind ?? kind),
    extensions: options.ca
      ? [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
            true,
          ),
        ]
      : [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const certificateDer = Buffer.from(certificate.rawData);
  return {
    certificatePem: `${certificate.toString("pem")}\n`,
    certificateDer,
    privateKey,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    x5t: createHash("sha1").update(certificateDer).digest("base64url"),
    x5tS256: createHash("sha256").update(certificateDer).digest("base64url"),
    keys,
    kind,
    certificate,
  };
}

/** The fixture's key as encrypted PKCS#8 PEM. */
export function encryptedKeyPem(fixture: Fixture, password: string): string {
  return fixture.privateKey
    .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: password })
    .toString();
}

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** How the PKCS#12 fixtures are made: OpenSSL when the machine has it, node-forge otherwise. */
export const PKCS12_MAKER: "openssl" | "node-forge" = hasOpenssl() ? "openssl" : "node-forge";

/**
 * A PKCS#12 file of the fixture (and `chain`, after it): `default` encryption is OpenSSL 3's
 * (AES-256-CBC, PBKDF2, HMAC-SHA256 MAC), `legacy` the older 3DES / RC2-40 with a SHA-1 MAC.
 */
export function pkcs12(
  fixture: Pick<Fixture, "certificatePem" | "privateKeyPem">,
  password: string,
  encryption: "default" | "legacy",
  chain: Pick<Fixture, "certificatePem">[] = [],
): Buffer {
  if (PKCS12_MAKER === "openssl") {
    const directory = mkdtempSync(join(tmpdir(), "fedcred-pkcs12-"));
    try {
      const key = join(directory, "key.pem");
      const certificate = join(directory, "certificate.pem");
      const out = join(directory, "out.pfx");
      writeFileSync(key, fixture.privateKeyPem, { mode: 0o600 });
      writeFileSync(certificate, [fixture, ...chain].map((link) => link.certificatePem).join(""));
      execFileSync("openssl", [
        "pkcs12",
        "-export",
        ...(encryption === "legacy" ? ["-legacy"] : []),
        "-inkey",
        key,
        "-in",
        certificate,
        "-out",
        out,
        "-passout",
        `pass:${password}`,
      ]);
      return readFileSync(out);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(fixture.privateKeyPem),
    [fixture, ...chain].map((link) => forge.pki.certificateFromPem(link.certificatePem)),
    password,
    { algorithm: encryption === "legacy" ? "3des" : "aes256" },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
}

/** The header and claims of a JWT, unverified. */
export function decodeJwt(jwt: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const [header = "", claims = ""] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(header, "base64url").toString("utf8")),
    claims: JSON.parse(Buffer.from(claims, "base64url").toString("utf8")),
  };
}
