import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { invalidConfiguration } from "./configuration-error.js";
import { loadForge } from "./node-forge.js";

/** What a PKCS#12 file holds: its certificates and private keys, as Node objects. */
export interface Pkcs12Contents {
  certificates: X509Certificate[];
  privateKeys: KeyObject[];
}

type Forge = ReturnType<typeof loadForge>;
type Pfx = ReturnType<Forge["pkcs12"]["pkcs12FromAsn1"]>;

/**
 * Opens a PKCS#12 (`.pfx`, `.p12`) file with node-forge, which reads both the AES-256 files of
 * OpenSSL 3 and the legacy 3DES / RC2 ones of older tools and Windows. Each key goes straight
 * into a `KeyObject`; the DER bytes it passed through are zeroed.
 */
export function readPkcs12(
  der: Buffer,
  password: string | undefined,
  source: string,
): Pkcs12Contents {
  const forge = loadForge();
  let asn1: ReturnType<Forge["asn1"]["fromDer"]>;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString("binary")), false);
  } catch {
    throw notCertificate(source);
  }
  const pfx = openPfx(forge, asn1, password, source);
  const bagsOf = (bagType: string): NonNullable<ReturnType<Pfx["getBags"]>[string]> =>
    pfx.getBags({ bagType })[bagType] ?? [];
  const certificates = bagsOf(forge.pki.oids.certBag!).map((bag) => {
    const certificateAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
    try {
      return new X509Certificate(
        Buffer.from(forge.asn1.toDer(certificateAsn1).getBytes(), "binary"),
      );
    } catch {
      throw invalidConfiguration(
        `${source} holds a certificate that is not a valid X.509 certificate.`,
      );
    }
  });
  const keyBags = [
    ...bagsOf(forge.pki.oids.pkcs8ShroudedKeyBag!),
    ...bagsOf(forge.pki.oids.keyBag!),
  ];
  const privateKeys = keyBags.map((bag) => {
    // node-forge decodes RSA keys (to PKCS#1) and leaves others as their PrivateKeyInfo (PKCS#8).
    const rsa = bag.key !== undefined && bag.key !== null;
    const keyAsn1 = rsa ? forge.pki.privateKeyToAsn1(bag.key as never) : bag.asn1;
    const bytes = Buffer.from(forge.asn1.toDer(keyAsn1).getBytes(), "binary");
    try {
      return createPrivateKey({ key: bytes, format: "der", type: rsa ? "pkcs1" : "pkcs8" });
    } catch {
      throw invalidConfiguration(`${source} holds a private key that cannot be read.`);
    } finally {
      bytes.fill(0);
    }
  });
  return { certificates, privateKeys };
}

function openPfx(
  forge: Forge,
  asn1: ReturnType<Forge["asn1"]["fromDer"]>,
  password: string | undefined,
  source: string,
): Pfx {
  try {
    // Files exported without a password (openssl -passout pass:) are protected by an empty one.
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? "");
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    if (/password/i.test(message)) {
      throw invalidConfiguration(
        password === undefined
          ? `${source} is a PKCS#12 file protected by a password: pass options.password (or set AZURE_CLIENT_CERTIFICATE_PASSWORD).`
          : `${source} is a PKCS#12 file that the password given does not open: check options.password (or AZURE_CLIENT_CERTIFICATE_PASSWORD).`,
      );
    }
    if (/unsupported|OID/i.test(message)) {
      throw invalidConfiguration(
        `${source} is a PKCS#12 file encrypted with an algorithm node-forge cannot read: export it again with openssl pkcs12 -export (AES-256), or -legacy (3DES).`,
      );
    }
    throw notCertificate(source);
  }
}

function notCertificate(source: string): Error {
  return invalidConfiguration(
    `${source} is not a certificate: neither PEM (-----BEGIN CERTIFICATE-----) nor a PKCS#12 (.pfx) file.`,
  );
}
