import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * A certificate authority generated at start, and a server certificate it issued for loopback.
 *
 * @example
 * ```ts
 * const ca: TlsAuthority = await createTlsAuthority();
 * await startKubernetes({ tlsAuthority: ca });
 * ```
 */
export interface TlsAuthority {
  /** PEM of the CA certificate: trust it (NODE_EXTRA_CA_CERTS, kubeconfig `certificate-authority-data`). */
  readonly caCertificate: string;
  /** PEM of the server certificate (SAN: `localhost`, `127.0.0.1` and any extra DNS names). */
  readonly serverCertificate: string;
  /** PEM (PKCS#8) of the server's private key. */
  readonly serverKey: string;
}

/**
 * The `tls` part of a server's listen options: HTTPS with the server certificate `authority`
 * issued, or nothing (plain http) without one.
 *
 * @example
 * ```ts
 * const server = await listen(handler, { host, port, ...serverTlsOf(options.tlsAuthority) });
 * ```
 */
export function serverTlsOf(authority: TlsAuthority | undefined): {
  tls?: { cert: string; key: string };
} {
  return authority ? { tls: { cert: authority.serverCertificate, key: authority.serverKey } } : {};
}

/** RSA 2048 with SHA-256, for the certificates the emulator generates. */
export const RSA_SIGNING: webcrypto.RsaHashedKeyGenParams = {
  name: "RSASSA-PKCS1-v1_5",
  hash: "SHA-256",
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** DER bytes as a PEM block with `label` (`PRIVATE KEY`, `CERTIFICATE`). */
export function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${base64.trimEnd()}\n-----END ${label}-----\n`;
}

/**
 * Generates a CA and a server certificate for `localhost` / `127.0.0.1` (and `extraDnsNames`,
 * for tests that reach a made-up host through a proxy), valid for a day.
 *
 * With `{ loopback: false }` the certificate names only `extraDnsNames` (its subject is the
 * first of them): a client that checks it against the address it dials, rather than a server
 * name it was given, fails verification.
 *
 * @example
 * ```ts
 * const ca = await createTlsAuthority();
 * const entra = await startEntra({ tls: { cert: ca.serverCertificate, key: ca.serverKey } });
 * // clients trust ca.caCertificate through NODE_EXTRA_CA_CERTS
 * const sniOnly = await createTlsAuthority("proxy CA", ["proxy.fedcred.test"], { loopback: false });
 * ```
 */
export async function createTlsAuthority(
  commonName = "fedcred emulator CA",
  extraDnsNames: readonly string[] = [],
  options: { loopback?: boolean } = {},
): Promise<TlsAuthority> {
  const loopback = options.loopback ?? true;
  const [firstDnsName] = extraDnsNames;
  if (!loopback && firstDnsName === undefined) {
    throw new RangeError("createTlsAuthority: { loopback: false } needs at least one DNS name");
  }
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const caKeys = await webcrypto.subtle.generateKey(RSA_SIGNING, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys: caKeys as CryptoKeyPair,
    signingAlgorithm: RSA_SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as CryptoKey),
    ],
  });
  const serverKeys = await webcrypto.subtle.generateKey(RSA_SIGNING, true, ["sign", "verify"]);
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: `CN=${loopback ? "localhost" : firstDnsName}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey as CryptoKey,
    signingKey: caKeys.privateKey as CryptoKey,
    signingAlgorithm: RSA_SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...(loopback
          ? [
              { type: "dns" as const, value: "localhost" },
              { type: "ip" as const, value: "127.0.0.1" },
            ]
          : []),
        ...extraDnsNames.map((value) => ({ type: "dns" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
    ],
  });
  const serverKeyDer = await webcrypto.subtle.exportKey(
    "pkcs8",
    serverKeys.privateKey as CryptoKey,
  );
  return {
    caCertificate: `${ca.toString("pem")}\n`,
    serverCertificate: `${server.toString("pem")}\n`,
    serverKey: toPem(serverKeyDer, "PRIVATE KEY"),
  };
}
