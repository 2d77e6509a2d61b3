import { constants, createPublicKey, randomBytes, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { type AssertionContext, CredentialUnavailableError, logger } from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { certificateCredential, fromCertificate } from "../src/index.js";
import {
  createFixture,
  decodeJwt,
  encryptedKeyPem,
  type Fixture,
  PKCS12_MAKER,
  pkcs12,
} from "./fixtures.js";

const CLIENT_ID = "0b4c1b6e-0000-4000-8000-00000000c3a1";
const ENDPOINT =
  "https://login.microsoftonline.com/5b0c3f1e-0000-4000-8000-0000000009a5/oauth2/v2.0/token";
const PASSWORD = "correct horse battery staple";

function context(overrides: Partial<AssertionContext> = {}): AssertionContext {
  return {
    clientId: CLIENT_ID,
    tenantId: "5b0c3f1e-0000-4000-8000-0000000009a5",
    authorityHost: "https://login.microsoftonline.com",
    tokenEndpoint: ENDPOINT,
    ...overrides,
  };
}

let app: Fixture;
let other: Fixture;
let root: Fixture;
let intermediate: Fixture;
let leaf: Fixture;
let directory: string;

beforeAll(async () => {
  [app, other, root] = await Promise.all([
    createFixture({ subject: "CN=billing, O=Contoso" }),
    createFixture({ subject: "CN=someone else" }),
    createFixture({ subject: "CN=Contoso Root CA", ca: true }),
  ]);
  intermediate = await createFixture({ subject: "CN=Contoso Issuing CA", ca: true, issuer: root });
  leaf = await createFixture({ subject: "CN=billing.contoso.com", issuer: intermediate });
  directory = mkdtempSync(join(tmpdir(), "fedcred-certificate-"));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

function file(name: string, contents: string | Buffer): string {
  const path = join(directory, name);
  writeFileSync(path, contents, { mode: 0o600 });
  return path;
}

/** Checks the signature of `jwt` with the certificate's public key, as Entra does. */
function verifies(jwt: string, fixture: Fixture): boolean {
  const [header = "", payload = "", signature = ""] = jwt.split(".");
  const { alg } = decodeJwt(jwt).header;
  const key = createPublicKey(fixture.certificatePem);
  return verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    alg === "PS256"
      ? {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }
      : key,
    Buffer.from(signature, "base64url"),
  );
}

/** Collects what the fedcred logger writes at warning level while `run` runs. */
async function warningsOf(run: () => void): Promise<string[]> {
  const lines: string[] = [];
  const originalLog = AzureLogger.log;
  setLogLevel("warning");
  AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    run();
    // Lines are kept in order while @azure/logger loads: once this one is out, all are.
    logger.warning("fedcred-certificate-test: sentinel");
    await vi.waitFor(() => expect(lines.some((line) => line.includes("sentinel"))).toBe(true), {
      timeout: 10_000,
    });
    return lines.filter((line) => !line.includes("sentinel"));
  } finally {
    AzureLogger.log = originalLog;
    setLogLevel(undefined as never);
  }
}

describe("inputs", () => {
  const inputs: [string, () => Parameters<typeof fromCertificate>[0]][] = [
    [
      "a PEM bundle file",
      () => ({ certificatePath: file("bundle.pem", app.certificatePem + app.privateKeyPem) }),
    ],
    [
      "a PEM bundle string, key first",
      () => ({ certificate: app.privateKeyPem + app.certificatePem }),
    ],
    [
      "a PEM certificate and a separate PEM key",
      () => ({ certificate: app.certificatePem, privateKey: app.privateKeyPem }),
    ],
    [
      "a DER certificate and a KeyObject",
      () => ({ certificate: app.certificateDer, privateKey: app.privateKey }),
    ],
    [
      "a PEM certificate and a DER PKCS#8 key",
      () => ({
        certificate: Buffer.from(app.certificatePem),
        privateKey: app.privateKey.export({ format: "der", type: "pkcs8" }),
      }),
    ],
    [
      "a DER PKCS#1 key",
      () => ({
        certificate: app.certificatePem,
        privateKey: app.privateKey.export({ format: "der", type: "pkcs1" }),
      }),
    ],
    [
      "a PKCS#1 key",
      () => ({
        certificate: app.certificatePem,
        privateKey: app.privateKey.export({ format: "pem", type: "pkcs1" }).toString(),
      }),
    ],
    [
      "an encrypted PKCS#8 key",
      () => ({
        certificate: app.certificatePem,
        privateKey: encryptedKeyPem(app, PASSWORD),
        password: PASSWORD,
      }),
    ],
    [
      "an encrypted key in the bundle, with certificatePassword",
      () => ({
        certificate: app.certificatePem + encryptedKeyPem(app, PASSWORD),
        certificatePassword: PASSWORD,
      }),
    ],
    [
      "a PKCS#12 file in OpenSSL 3's default encryption",
      () => ({
        certificatePath: file("default.pfx", pkcs12(app, PASSWORD, "default")),
        password: PASSWORD,
      }),
    ],
    [
      "a PKCS#12 file in legacy encryption",
      () => ({
        certificatePath: file("legacy.pfx", pkcs12(app, PASSWORD, "legacy")),
        password: PASSWORD,
      }),
    ],
    [
      "PKCS#12 bytes",
      () => ({ certificate: pkcs12(app, PASSWORD, "default"), password: PASSWORD }),
    ],
    [
      "PKCS#12 as base64 (a Key Vault secret)",
      () => ({
        certificate: pkcs12(app, PASSWORD, "legacy").toString("base64"),
        password: PASSWORD,
      }),
    ],
    [
      "a PKCS#12 file without a password",
      () => ({ certificatePath: file("nopass.pfx", pkcs12(app, "", "default")) }),
    ],
  ];

  it.each(inputs)("%s: signs PS256 with x5t#S256 and the claims Entra wants", (_name, options) => {
    const getAssertion = fromCertificate(options());
    const before = Math.floor(Date.now() / 1000);
    const jwt = getAssertion(context()) as string;
    const { header, claims } = decodeJwt(jwt);
    expect(header).toEqual({ alg: "PS256", typ: "JWT", "x5t#S256": app.x5tS256 });
    expect(claims).toMatchObject({ aud: ENDPOINT, iss: CLIENT_ID, sub: CLIENT_ID });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe((claims.iat as number) + 600);
    expect(verifies(jwt, app)).toBe(true);
    expect(getAssertion.certificate).toMatchObject({
      subject: "CN=billing, O=Contoso",
      thumbprintHeader: { name: "x5t#S256", value: app.x5tS256 },
      x5cLength: 0,
    });
  });

  it(`reads PKCS#12 files made by ${PKCS12_MAKER}, with the thumbprint of the original certificate`, () => {
    const fromPkcs12 = fromCertificate({
      certificate: pkcs12(app, PASSWORD, "legacy"),
      password: PASSWORD,
    });
    const fromPem = fromCertificate({ certificate: app.certificatePem + app.privateKeyPem });
    expect(fromPkcs12.certificate).toEqual(fromPem.certificate);
  });

  it("RS256 names the certificate by x5t (SHA-1) and signs PKCS#1 v1.5", () => {
    const getAssertion = fromCertificate({
      certificate: app.certificatePem + app.privateKeyPem,
      algorithm: "RS256",
    });
    const jwt = getAssertion(context()) as string;
    expect(decodeJwt(jwt).header).toEqual({ alg: "RS256", typ: "JWT", x5t: app.x5t });
    expect(verifies(jwt, app)).toBe(true);
    expect(getAssertion.certificate.thumbprintSha1).toBe(
      Buffer.from(app.x5t, "base64url").toString("hex").toUpperCase(),
    );
  });

  it("sendCertificateChain puts the chain in x5c, leaf first, whatever the order in the file", () => {
    const bundle =
      intermediate.certificatePem + leaf.privateKeyPem + root.certificatePem + leaf.certificatePem;
    const jwt = fromCertificate({ certificate: bundle, sendCertificateChain: true })(
      context(),
    ) as string;
    expect(decodeJwt(jwt).header.x5c).toEqual(
      [leaf, intermediate, root].map((link) => link.certificateDer.toString("base64")),
    );
    const withoutChain = fromCertificate({ certificate: bundle })(context()) as string;
    expect(decodeJwt(withoutChain).header).not.toHaveProperty("x5c");
  });

  it("reads the chain of a PKCS#12 file too", () => {
    const getAssertion = fromCertificate({
      certificate: pkcs12(leaf, PASSWORD, "default", [intermediate, root]),
      password: PASSWORD,
      sendCertificateChain: true,
    });
    expect(decodeJwt(getAssertion(context()) as string).header.x5c).toEqual(
      [leaf, intermediate, root].map((link) => link.certificateDer.toString("base64")),
    );
    expect(getAssertion.certificate.x5cLength).toBe(3);
  });

  it("lifetimeSeconds sets exp - iat", () => {
    const jwt = fromCertificate({
      certificate: app.certificatePem + app.privateKeyPem,
      lifetimeSeconds: 60,
    })(context()) as string;
    const { claims } = decodeJwt(jwt);
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
  });
});

describe("environment", () => {
  it("reads AZURE_CLIENT_CERTIFICATE_PATH, _PASSWORD and AZURE_CLIENT_SEND_CERTIFICATE_CHAIN as @azure/identity does", () => {
    vi.stubEnv(
      "AZURE_CLIENT_CERTIFICATE_PATH",
      file("env.pfx", pkcs12(leaf, PASSWORD, "default", [intermediate])),
    );
    vi.stubEnv("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD);
    vi.stubEnv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "True");
    const { header } = decodeJwt(fromCertificate()(context()) as string);
    expect(header.x5c).toHaveLength(2);
    expect(header["x5t#S256"]).toBe(leaf.x5tS256);
    vi.stubEnv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "1");
    expect(fromCertificate().certificate.x5cLength).toBe(2);
    vi.stubEnv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "yes");
    expect(fromCertificate().certificate.x5cLength).toBe(0);
  });

  it("explicit options win over the environment", () => {
    vi.stubEnv("AZURE_CLIENT_CERTIFICATE_PATH", join(directory, "missing.pem"));
    vi.stubEnv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "not the password");
    vi.stubEnv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true");
    const getAssertion = fromCertificate({
      certificatePath: file("explicit.pfx", pkcs12(app, PASSWORD, "default")),
      password: PASSWORD,
      sendCertificateChain: false,
    });
    expect(getAssertion.certificate.subject).toBe("CN=billing, O=Contoso");
    expect(getAssertion.certificate.x5cLength).toBe(0);
  });

  it("the environment's password goes with the environment's certificate only", () => {
    vi.stubEnv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "a password for another file");
    const getAssertion = fromCertificate({
      certificatePath: file("nopassword.pfx", pkcs12(app, "", "default")),
    });
    expect(getAssertion.certificate.subject).toBe("CN=billing, O=Contoso");
  });

  it("without any certificate: missing_configuration naming the options and the variable", () => {
    expect(() => fromCertificate()).toThrow(
      expect.objectContaining({
        name: "CredentialUnavailableError",
        code: "missing_configuration",
        message: expect.stringContaining("AZURE_CLIENT_CERTIFICATE_PATH"),
      }),
    );
  });
});

describe("factory refusals", () => {
  const refusals: [string, () => Parameters<typeof fromCertificate>[0], RegExp][] = [
    ["text that is not a certificate", () => ({ certificate: "hello" }), /not PEM .* nor base64/],
    [
      "a path passed as the certificate",
      () => ({ certificate: "/etc/app/cert.pem" }),
      /is it a path\? Pass it as options\.certificatePath/,
    ],
    [
      "bytes that are not a certificate",
      () => ({ certificate: randomBytes(256) }),
      /is not a certificate: neither PEM .* nor a PKCS#12/,
    ],
    [
      "a PEM file with only a key",
      () => ({ certificate: app.privateKeyPem }),
      /holds no certificate .*only a private key/,
    ],
    [
      "a PEM whose line breaks are literal \\n sequences",
      () => ({ certificate: (app.certificatePem + app.privateKeyPem).replaceAll("\n", "\\n") }),
      /line breaks are literal \\n sequences/,
    ],
    [
      "OpenSSL's TRUSTED CERTIFICATE form",
      () => ({
        certificate:
          app.certificatePem.replaceAll("CERTIFICATE-----", "TRUSTED CERTIFICATE-----") +
          app.privateKeyPem,
      }),
      /TRUSTED CERTIFICATE .* export a plain CERTIFICATE/,
    ],
    [
      "unterminated certificate blocks, many of them",
      () => ({ certificate: "-----BEGIN CERTIFICATE-----\n".repeat(20_000) }),
      /holds no certificate \(no complete -----BEGIN CERTIFICATE----- block\)/,
    ],
    [
      "a private key of the wrong type",
      () => ({ certificate: app.certificatePem, privateKey: 42 as never }),
      /options\.privateKey must be PEM text, DER bytes or a KeyObject, got number/,
    ],
    [
      "a broken certificate block",
      () => ({ certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
      /not a valid X\.509 certificate/,
    ],
    [
      "a certificate without its key",
      () => ({ certificate: app.certificatePem }),
      /holds no private key: add it to the PEM file/,
    ],
    [
      "a DER certificate without its key",
      () => ({ certificate: app.certificateDer }),
      /DER certificate\) holds no private key/,
    ],
    [
      "a key that does not belong to the certificate",
      () => ({ certificate: app.certificatePem, privateKey: other.privateKeyPem }),
      /the private key does not belong to the certificate, CN=billing, O=Contoso \(SHA-1 thumbprint [0-9A-F]{40}\)/,
    ],
    [
      "two keys in one bundle",
      () => ({ certificate: app.certificatePem + app.privateKeyPem + other.privateKeyPem }),
      /holds 2 private keys/,
    ],
    [
      "a key in the bundle and privateKey too",
      () => ({ certificate: app.certificatePem + app.privateKeyPem, privateKey: app.privateKey }),
      /pass one of them/,
    ],
    [
      "a public key as privateKey",
      () => ({ certificate: app.certificatePem, privateKey: createPublicKey(app.certificatePem) }),
      /is a public key/,
    ],
    [
      "an encrypted key without a password",
      () => ({ certificate: app.certificatePem, privateKey: encryptedKeyPem(app, PASSWORD) }),
      /is an encrypted private key: pass its password as options\.password/,
    ],
    [
      "an encrypted key with a wrong password",
      () => ({
        certificate: app.certificatePem,
        privateKey: encryptedKeyPem(app, PASSWORD),
        password: "wrong",
      }),
      /the password given does not decrypt/,
    ],
    [
      "an encrypted DER key without a password",
      () => ({
        certificate: app.certificatePem,
        privateKey: app.privateKey.export({
          format: "der",
          type: "pkcs8",
          cipher: "aes-256-cbc",
          passphrase: PASSWORD,
        }),
      }),
      /is an encrypted private key/,
    ],
    [
      "a PKCS#12 file without a password",
      () => ({ certificate: pkcs12(app, PASSWORD, "default") }),
      /PKCS#12 file protected by a password: pass options\.password/,
    ],
    [
      "a PKCS#12 file with a wrong password",
      () => ({ certificate: pkcs12(app, PASSWORD, "legacy"), password: "wrong" }),
      /PKCS#12 file that the password given does not open/,
    ],
    [
      "a PKCS#12 file and privateKey",
      () => ({
        certificate: pkcs12(app, PASSWORD, "default"),
        password: PASSWORD,
        privateKey: app.privateKey,
      }),
      /holds its own private key: drop options\.privateKey/,
    ],
    [
      "both certificatePath and certificate",
      () => ({ certificatePath: "/x.pem", certificate: app.certificatePem }),
      /either options\.certificatePath or options\.certificate/,
    ],
    [
      "a file that does not exist",
      () => ({ certificatePath: join(directory, "nope.pem") }),
      /nope\.pem\) cannot be read \(ENOENT\)/,
    ],
    [
      "password and certificatePassword that differ",
      () => ({ certificate: app.certificatePem, password: "a", certificatePassword: "b" }),
      /both set, to different values/,
    ],
    [
      "an unknown algorithm",
      () => ({ certificate: app.certificatePem + app.privateKeyPem, algorithm: "ES256" as never }),
      /options\.algorithm must be "PS256" .* or "RS256", got "ES256"/,
    ],
    [
      "a lifetime too long",
      () => ({ certificate: app.certificatePem + app.privateKeyPem, lifetimeSeconds: 86_400 }),
      /lifetimeSeconds must be a whole number of seconds from 60 to 3600, got 86400/,
    ],
    [
      "a lifetime too short",
      () => ({ certificate: app.certificatePem + app.privateKeyPem, lifetimeSeconds: 10 }),
      /from 60 to 3600, got 10/,
    ],
  ];

  it.each(refusals)("%s", (_name, options, message) => {
    let thrown: unknown;
    try {
      fromCertificate(options());
    } catch (error) {
      thrown = error;
    }
    expect(CredentialUnavailableError.isInstance(thrown)).toBe(true);
    expect((thrown as CredentialUnavailableError).code).toBe("invalid_configuration");
    expect((thrown as Error).message).toMatch(message);
  });

  it.each([
    [
      "an EC key",
      "ec" as const,
      /holds an ec \(prime256v1\) private key: Entra ID accepts only RSA keys/,
    ],
    [
      "an Ed25519 key",
      "ed25519" as const,
      /holds an ed25519 private key: Entra ID accepts only RSA keys/,
    ],
    [
      "an RSA key of 1024 bits",
      "rsa-1024" as const,
      /holds an RSA key of 1024 bits: Entra ID refuses RSA keys under 2048 bits \(AADSTS700027\)/,
    ],
  ])("%s, in PEM and in PKCS#12", async (_name, key, message) => {
    const fixture = await createFixture({ key, issuer: key === "rsa-1024" ? undefined : root });
    expect(() =>
      fromCertificate({ certificate: fixture.certificatePem + fixture.privateKeyPem }),
    ).toThrow(message);
    if (key !== "ed25519" || PKCS12_MAKER === "openssl") {
      expect(() =>
        fromCertificate({ certificate: pkcs12(fixture, PASSWORD, "default"), password: PASSWORD }),
      ).toThrow(message);
    }
  });

  it("an expired certificate", async () => {
    const expired = await createFixture({
      subject: "CN=old",
      notBefore: new Date(Date.now() - 400 * 24 * 3600_000),
      notAfter: new Date(Date.now() - 24 * 3600_000),
    });
    expect(() =>
      fromCertificate({ certificate: expired.certificatePem + expired.privateKeyPem }),
    ).toThrow(
      /the certificate CN=old \(SHA-1 thumbprint [0-9A-F]{40}\) expired at .*Z: Entra ID refuses it\. Renew it/,
    );
  });

  it("a certificate that expires within 30 days is a warning, and works", async () => {
    const soon = await createFixture({
      subject: "CN=soon",
      notAfter: new Date(Date.now() + 10 * 24 * 3600_000),
    });
    let getAssertion: ReturnType<typeof fromCertificate> | undefined;
    const warnings = await warningsOf(() => {
      getAssertion = fromCertificate({ certificate: soon.certificatePem + soon.privateKeyPem });
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /the certificate CN=soon \(SHA-1 thumbprint [0-9A-F]{40}\) expires at .*, in less than 30 days: renew it/,
    );
    expect(verifies(getAssertion?.(context()) as string, soon)).toBe(true);
    const quiet = await warningsOf(() =>
      fromCertificate({ certificate: app.certificatePem + app.privateKeyPem }),
    );
    expect(quiet).toEqual([]);
  });

  it("a certificate that expires while the process runs: the next call fails, saying so", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const getAssertion = fromCertificate({ certificate: app.certificatePem + app.privateKeyPem });
    vi.setSystemTime(new Date(getAssertion.certificate.notAfter).getTime() + 1000);
    expect(() => getAssertion(context())).toThrow(
      expect.objectContaining({
        name: "AuthenticationError",
        code: "assertion_failed",
        message: expect.stringMatching(
          /expired at .*: Entra ID refuses assertions it signs\. Renew it/,
        ),
      }),
    );
  });

  it("a call without the token endpoint (a zero-argument caller) says what it needs", () => {
    const getAssertion = fromCertificate({
      certificate: app.certificatePem + app.privateKeyPem,
    }) as unknown as () => string;
    expect(() => getAssertion()).toThrow(/needs the token endpoint it is for \(its aud\)/);
  });
});

describe("reuse", () => {
  it("reuses the assertion for the same endpoint until 2 minutes before exp, then signs anew; forceRefresh signs anew", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const getAssertion = fromCertificate({ certificate: app.certificatePem + app.privateKeyPem });
    const first = getAssertion(context()) as string;
    const { claims } = decodeJwt(first);
    vi.advanceTimersByTime(477_000); // 2 min 3 s before exp: still reused
    expect(getAssertion(context())).toBe(first);

    const otherTenant = context({ tokenEndpoint: ENDPOINT.replace("5b0c3f1e", "7c1d4a2f") });
    const forOther = getAssertion(otherTenant) as string;
    expect(forOther).not.toBe(first);
    expect(decodeJwt(forOther).claims.aud).toBe(otherTenant.tokenEndpoint);

    vi.advanceTimersByTime(4_000); // 1 min 59 s before exp: signed anew
    const second = getAssertion(context()) as string;
    expect(second).not.toBe(first);
    expect(decodeJwt(second).claims.jti).not.toBe(claims.jti);
    expect(decodeJwt(second).claims.iat).toBe((claims.iat as number) + 481);

    expect(getAssertion(context())).toBe(second);
    const forced = getAssertion(context({ forceRefresh: true })) as string;
    expect(forced).not.toBe(second);
    expect(getAssertion(context())).toBe(forced);
  });

  it("keeps one assertion per client id: an app never gets another app's assertion", () => {
    const getAssertion = fromCertificate({ certificate: app.certificatePem + app.privateKeyPem });
    const otherApp = "9f8e7d6c-0000-4000-8000-00000000c3a2";
    const first = getAssertion(context()) as string;
    const second = getAssertion(context({ clientId: otherApp })) as string;
    expect(second).not.toBe(first);
    expect(decodeJwt(second).claims).toMatchObject({ iss: otherApp, sub: otherApp });
    expect(getAssertion(context())).toBe(first);
  });

  it("explains a 700023 with the aud of the assertion that was refused, not the last one signed", () => {
    const getAssertion = fromCertificate({ certificate: app.certificatePem + app.privateKeyPem });
    const otherTenant = context({ tokenEndpoint: ENDPOINT.replace("5b0c3f1e", "7c1d4a2f") });
    const refused = getAssertion(context()) as string;
    getAssertion(otherTenant);
    const detail = getAssertion.describeRefusal?.([700023], decodeJwt(refused).claims);
    expect(detail).toContain(`The assertion's aud was ${ENDPOINT}`);
    expect(getAssertion.describeRefusal?.([700213], decodeJwt(refused).claims)).toBeUndefined();
  });

  it("with a short lifetime the margin is a fifth of it", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const getAssertion = fromCertificate({
      certificate: app.certificatePem + app.privateKeyPem,
      lifetimeSeconds: 60,
    });
    const first = getAssertion(context());
    vi.advanceTimersByTime(47_000);
    expect(getAssertion(context())).toBe(first);
    vi.advanceTimersByTime(2_000);
    expect(getAssertion(context())).not.toBe(first);
  });
});

describe("secrets", () => {
  const keyMarkers = (fixture: Fixture): string[] => {
    const pkcs8 = fixture.privateKey.export({ format: "der", type: "pkcs8" });
    const jwk = fixture.privateKey.export({ format: "jwk" });
    return [
      "PRIVATE KEY",
      pkcs8.subarray(40, 80).toString("base64"),
      pkcs8.subarray(100, 140).toString("hex"),
      String(jwk.d).slice(0, 40),
      String(jwk.p).slice(0, 40),
    ];
  };

  it("util.inspect of the provider and JSON of its description show no key and no password", () => {
    for (const getAssertion of [
      fromCertificate({
        certificate: app.certificatePem + encryptedKeyPem(app, PASSWORD),
        password: PASSWORD,
      }),
      fromCertificate({ certificate: pkcs12(app, PASSWORD, "default"), password: PASSWORD }),
      fromCertificate({ certificate: app.certificatePem, privateKey: app.privateKey }),
    ]) {
      getAssertion(context());
      const printed = [
        inspect(getAssertion, { showHidden: true, depth: 10 }),
        JSON.stringify(getAssertion),
        JSON.stringify(getAssertion.certificate),
        inspect(getAssertion.certificate, { showHidden: true, depth: 10 }),
        JSON.stringify(Object.getOwnPropertyDescriptors(getAssertion)),
      ].join("\n");
      for (const marker of [...keyMarkers(app), PASSWORD]) expect(printed).not.toContain(marker);
      expect(printed).toContain("CN=billing, O=Contoso");
    }
  });

  it("util.inspect and JSON of certificateCredential's credential show no key and no password", () => {
    const credential = certificateCredential("5b0c3f1e-0000-4000-8000-0000000009a5", CLIENT_ID, {
      certificate: pkcs12(app, PASSWORD, "legacy"),
      password: PASSWORD,
    });
    const printed = [
      inspect(credential, { showHidden: true, depth: 10 }),
      JSON.stringify(credential),
    ].join("\n");
    for (const marker of [...keyMarkers(app), PASSWORD]) expect(printed).not.toContain(marker);
  });

  it("errors hold no key bytes and no password, in their message, JSON or util.inspect", () => {
    const failing: (() => unknown)[] = [
      () =>
        fromCertificate({
          certificate: app.certificatePem,
          privateKey: encryptedKeyPem(app, PASSWORD),
          password: `${PASSWORD}!`,
        }),
      () =>
        fromCertificate({
          certificate: pkcs12(app, PASSWORD, "default"),
          password: `${PASSWORD}!`,
        }),
      () => fromCertificate({ certificate: other.certificatePem, privateKey: app.privateKeyPem }),
      () => fromCertificate({ certificate: app.privateKeyPem }),
      () =>
        fromCertificate({
          certificate: app.privateKeyPem
            .replace("PRIVATE KEY", "CERTIFICATE")
            .replace("PRIVATE KEY", "CERTIFICATE"),
        }),
    ];
    for (const run of failing) {
      let thrown: unknown;
      try {
        run();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      const printed = [
        (thrown as Error).message,
        JSON.stringify(thrown),
        inspect(thrown, { showHidden: true, depth: 10 }),
      ].join("\n");
      for (const marker of [...keyMarkers(app).slice(1), PASSWORD])
        expect(printed).not.toContain(marker);
    }
  });
});
