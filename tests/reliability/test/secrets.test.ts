import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { fromCertificate } from "@fedcred/certificate";
import {
  AuthenticationError,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  CredentialUnavailableError,
  createTransport,
  logger,
} from "@fedcred/core";
import {
  createSelfSignedCertificate,
  createTlsAuthority,
  type SelfSignedCertificate,
  type TlsAuthority,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLIENT_ID,
  type Federation,
  startFederation,
  tenantIdOf,
} from "./support/load-federation.js";
import {
  proxyEnvironment,
  type RecordingProxy,
  type RecordingServer,
  startRecordingProxy,
  startRecordingServer,
} from "./support/load-servers.js";
import {
  capturedLines,
  findLeaks,
  forget,
  recordSecret,
  recordSeen,
} from "./support/secrets-capture.js";
import { startTunnelProxy, type TunnelProxy } from "./support/secrets-proxy.js";

// The secrets every scenario here handles; the setup file (support/secrets-setup.ts) fails
// this file, and every other file of the project, if any of them shows in a log line or in the
// message, JSON or util.inspect of an error or credential. Each test checks it at its end too.
const MADE_UP_HOST = "login.fedcred.test";
const PROXY_USER = "proxy-user";
const PROXY_PASSWORD = "proxy-pa55word-Zq8vR3kT";
const KEY_PASSPHRASE = "key-passphrase-Hn4wX9cL";
const PFX_PASSWORD = "pfx-password-Tr7mB2sQ";
const SCOPE = "https://storage.azure.com/.default";
const TENANT = tenantIdOf(0);
const CERTIFICATE_APP = "7e1a0000-0000-4000-8000-0000000ce47a";

let tls: TlsAuthority;
let certificate: SelfSignedCertificate;
let federation: Federation;
let tunnel: TunnelProxy;
let recordingProxy: RecordingProxy;
let hostile: RecordingServer;
const closers: Array<() => Promise<void>> = [];

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  [tls, certificate] = await Promise.all([
    createTlsAuthority("fedcred secrets CA", [MADE_UP_HOST]),
    createSelfSignedCertificate({ commonName: "fedcred secrets app" }),
  ]);
  federation = await startFederation({
    entra: { tls: { cert: tls.serverCertificate, key: tls.serverKey } },
  });
  federation.entra.addApp(TENANT, {
    clientId: CERTIFICATE_APP,
    certificates: [certificate.certificatePem],
  });
  [tunnel, recordingProxy, hostile] = await Promise.all([
    startTunnelProxy({
      targetPort: federation.entra.port,
      username: PROXY_USER,
      password: PROXY_PASSWORD,
    }),
    startRecordingProxy(),
    startRecordingServer(),
  ]);
  recordSecret("a private key", certificate.privateKeyPem, tls.serverKey);
  recordSecret("a password", PROXY_PASSWORD, KEY_PASSPHRASE, PFX_PASSWORD);
  recordSecret(
    "a proxy authorization",
    Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString("base64"),
  );
});

afterEach(() => {
  // Each scenario leaks nothing by its end (the setup file checks the whole file again).
  expect(findLeaks()).toEqual([]);
});

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await Promise.all([
    federation?.close(),
    tunnel?.close(),
    recordingProxy?.close(),
    hostile?.close(),
  ]);
});

/** A credential for the federated app at the TLS Entra, through `options`. */
function federated(options: ClientAssertionCredentialOptions = {}): ClientAssertionCredential {
  const credential = new ClientAssertionCredential(TENANT, CLIENT_ID, () => federation.mint(), {
    authorityHost: federation.entra.url,
    tlsOptions: { ca: tls.caCertificate },
    retryOptions: { maxRetries: 0 },
    ...options,
  });
  recordSeen(credential);
  return credential;
}

/** Every printed form of `value` at once, to assert on with one `not.toContain`. */
function printed(value: unknown): string {
  return [
    value instanceof Error ? value.message : "",
    JSON.stringify(value) ?? "",
    inspect(value, { depth: 6 }),
  ].join("\n");
}

describe("secrets under verbose logging", () => {
  it("captures core's verbose log lines, and the detector finds a secret planted in one", async () => {
    const credential = federated();
    const token = await credential.getToken(SCOPE);
    expect(token.token.length).toBeGreaterThan(100);
    // AZURE_LOG_LEVEL=verbose reached @azure/logger and core's lines reached the capture.
    expect(
      capturedLines().some((line) => /fedcred.*token request tenant=.* status=200/.test(line)),
    ).toBe(true);
    expect(printed(token)).not.toContain(token.token);
    expect(printed(credential)).not.toContain(token.token);
    await credential.close();

    const planted = "planted-secret-value-0123456789";
    recordSecret("a planted secret", planted);
    logger.info(`this line leaks ${planted}`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(findLeaks()).toEqual([
      expect.objectContaining({ what: "a planted secret", where: "a captured log line" }),
    ]);
    forget(planted);
  });

  it("a proxy's password (proxyOptions) reaches the proxy only as Proxy-Authorization, never a message", async () => {
    const options = (password: string): ClientAssertionCredentialOptions => ({
      authorityHost: `https://${MADE_UP_HOST}`,
      proxyOptions: { host: "http://127.0.0.1", port: tunnel.port, username: PROXY_USER, password },
    });
    const credential = federated(options(PROXY_PASSWORD));
    const token = await credential.getToken(SCOPE);
    expect(tunnel.tunnels.at(-1)).toEqual({ target: `${MADE_UP_HOST}:443`, opened: true });
    expect(token.token.length).toBeGreaterThan(100);
    expect(printed(credential)).not.toContain(PROXY_PASSWORD);
    await credential.close();

    const wrong = "wrong-proxy-password-Yb6";
    recordSecret("a password", wrong);
    const refused = federated(options(wrong));
    const error = await refused.getToken(SCOPE).catch((caught: unknown) => caught);
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/answered 407 .* check the user name and password/);
    expect(printed(error)).not.toContain(wrong);
    expect(printed(refused)).not.toContain(wrong);
    await refused.close();
  });

  it("a password in HTTPS_PROXY reaches the proxy only as Proxy-Authorization, never a message", async () => {
    const restore = proxyEnvironment(
      `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${tunnel.port}`,
    );
    try {
      const credential = federated({ authorityHost: `https://${MADE_UP_HOST}` });
      await credential.getToken(SCOPE);
      await credential.close();
    } finally {
      restore();
    }
    const wrong = "wrong-env-password-Kd3";
    recordSecret("a password", wrong);
    const restoreWrong = proxyEnvironment(`http://${PROXY_USER}:${wrong}@127.0.0.1:${tunnel.port}`);
    try {
      const credential = federated({ authorityHost: `https://${MADE_UP_HOST}` });
      const error = await credential.getToken(SCOPE).catch((caught: unknown) => caught);
      expect((error as Error).message).toMatch(/\(from HTTPS_PROXY\) answered 407/);
      expect(printed(error)).not.toContain(wrong);
      await credential.close();
    } finally {
      restoreWrong();
    }
    // A variable that does not parse is never quoted: it may hold a password.
    const broken = `http://${PROXY_USER}:${PROXY_PASSWORD}@[not-a-host`;
    const restoreBroken = proxyEnvironment(broken);
    try {
      const credential = federated({ authorityHost: `https://${MADE_UP_HOST}` });
      const error = await credential.getToken(SCOPE).catch((caught: unknown) => caught);
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/HTTPS_PROXY is not a proxy URL/);
      expect(printed(error)).not.toContain(PROXY_PASSWORD);
      await credential.close();
    } finally {
      restoreBroken();
    }
  });

  it("a client key's passphrase (tlsOptions) opens the key, and a wrong one is refused without quoting either", async () => {
    const encryptedKey = createPrivateKey(certificate.privateKeyPem)
      .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: KEY_PASSPHRASE })
      .toString();
    recordSecret("a private key", encryptedKey);
    const tlsOptions = (passphrase: string) => ({
      ca: tls.caCertificate,
      cert: certificate.certificatePem,
      key: encryptedKey,
      passphrase,
    });
    const credential = federated({ tlsOptions: tlsOptions(KEY_PASSPHRASE) });
    await credential.getToken(SCOPE);
    expect(printed(credential)).not.toContain(KEY_PASSPHRASE);
    await credential.close();

    const wrong = "wrong-key-passphrase-Pw1";
    recordSecret("a password", wrong);
    const refused = federated({ tlsOptions: tlsOptions(wrong) });
    const error = await refused.getToken(SCOPE).catch((caught: unknown) => caught);
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^tlsOptions could not be loaded/);
    expect(printed(error)).not.toContain(wrong);
    await refused.close();
  });

  it("certificate assertions signed with a PEM key and with a PKCS#12 file leak neither the key nor the password", async () => {
    const credentialWith = (getAssertion: ReturnType<typeof fromCertificate>) => {
      recordSeen(getAssertion);
      const credential = new ClientAssertionCredential(TENANT, CERTIFICATE_APP, getAssertion, {
        authorityHost: federation.entra.url,
        tlsOptions: { ca: tls.caCertificate },
        retryOptions: { maxRetries: 0 },
      });
      recordSeen(credential);
      return credential;
    };
    const pem = credentialWith(
      fromCertificate({
        certificate: certificate.certificatePem,
        privateKey: certificate.privateKeyPem,
      }),
    );
    await pem.getToken(SCOPE);
    await pem.close();

    // A certificate the app does not hold: Entra refuses, and the error names the thumbprint.
    const other = await createSelfSignedCertificate({ commonName: "unregistered" });
    recordSecret("a private key", other.privateKeyPem);
    const unregistered = credentialWith(
      fromCertificate({ certificate: other.certificatePem, privateKey: other.privateKeyPem }),
    );
    const refusal = await unregistered.getToken(SCOPE).catch((caught: unknown) => caught);
    expect(AuthenticationError.isInstance(refusal)).toBe(true);
    expect((refusal as AuthenticationError).errorResponse?.errorCodes).toContain(700027);
    await unregistered.close();

    if (hasOpenssl()) {
      const directory = mkdtempSync(join(tmpdir(), "fedcred-secrets-"));
      try {
        writeFileSync(join(directory, "key.pem"), certificate.privateKeyPem, { mode: 0o600 });
        writeFileSync(join(directory, "cert.pem"), certificate.certificatePem);
        execFileSync("openssl", [
          "pkcs12",
          "-export",
          "-inkey",
          join(directory, "key.pem"),
          "-in",
          join(directory, "cert.pem"),
          "-out",
          join(directory, "app.pfx"),
          "-passout",
          `pass:${PFX_PASSWORD}`,
        ]);
        const pfx = readFileSync(join(directory, "app.pfx"));
        const fromPfx = credentialWith(
          fromCertificate({ certificate: pfx, password: PFX_PASSWORD }),
        );
        await fromPfx.getToken(SCOPE);
        await fromPfx.close();
        const wrong = "wrong-pfx-password-Qa9";
        recordSecret("a password", wrong);
        let error: unknown;
        try {
          fromCertificate({ certificate: pfx, password: wrong });
        } catch (caught) {
          error = caught;
        }
        recordSeen(error);
        expect(CredentialUnavailableError.isInstance(error)).toBe(true);
        expect(printed(error)).not.toContain(wrong);
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    }
  });

  it("a token endpoint that echoes the assertion (description, ids, Location, token_type) gets it scrubbed from every error", async () => {
    const answers = [
      (assertion: string) => ({
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          error: "invalid_client",
          error_description: `AADSTS50027: JWT ${assertion} is malformed. Trace ID: ${assertion.slice(0, 30)}`,
          error_codes: [50027],
          correlation_id: assertion.slice(-36),
          error_uri: `https://login.example/error?assertion=${assertion}`,
        }),
      }),
      (assertion: string) => ({
        status: 302,
        headers: {
          location: `https://${assertion.toLowerCase().slice(0, 60)}.example/steal?a=${assertion}`,
        },
      }),
      (assertion: string) => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          token_type: assertion,
          expires_in: 3599,
          access_token: "x".repeat(40),
        }),
      }),
      (assertion: string) => ({
        status: 503,
        headers: { "content-type": "text/html" },
        body: `<html>${assertion}</html>`,
      }),
    ];
    for (const answer of answers) {
      hostile.requests.length = 0;
      hostile.answer = (request) => answer(request.form.client_assertion ?? "");
      const credential = new ClientAssertionCredential(TENANT, CLIENT_ID, () => federation.mint(), {
        authorityHost: hostile.url,
        retryOptions: { maxRetries: 0 },
      });
      recordSeen(credential);
      const error = await credential.getToken(SCOPE).catch((caught: unknown) => caught);
      expect(AuthenticationError.isInstance(error)).toBe(true);
      const assertion = hostile.requests[0]?.form.client_assertion as string;
      expect(assertion).toMatch(/^eyJ/);
      expect(printed(error)).not.toContain(assertion);
      for (const part of assertion.split(".").slice(1)) expect(printed(error)).not.toContain(part);
      await credential.close();
    }
  });
});

describe("an http:// authority other than loopback", () => {
  let restore: () => void;
  beforeAll(() => {
    // Anything sent anywhere but loopback would reach this proxy first.
    restore = proxyEnvironment(recordingProxy.url);
  });
  afterAll(() => restore?.());

  it("is refused at construction, from options or AZURE_AUTHORITY_HOST, before the assertion is asked for or anything is sent", async () => {
    let asked = 0;
    const getAssertion = () => {
      asked++;
      return federation.mint();
    };
    for (const authorityHost of [
      `http://${MADE_UP_HOST}`,
      "http://10.0.0.1:8080",
      "http://[fd00::1]",
    ]) {
      let error: unknown;
      try {
        new ClientAssertionCredential(TENANT, CLIENT_ID, getAssertion, { authorityHost });
      } catch (caught) {
        error = caught;
      }
      recordSeen(error);
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "invalid_configuration" });
      expect((error as Error).message).toMatch(
        /^options\.authorityHost must use https: .* Plain http is accepted only for loopback hosts/,
      );
    }
    const saved = process.env.AZURE_AUTHORITY_HOST;
    process.env.AZURE_AUTHORITY_HOST = `http://${MADE_UP_HOST}/`;
    try {
      expect(() => new ClientAssertionCredential(TENANT, CLIENT_ID, getAssertion)).toThrow(
        /^AZURE_AUTHORITY_HOST must use https/,
      );
    } finally {
      if (saved === undefined) delete process.env.AZURE_AUTHORITY_HOST;
      else process.env.AZURE_AUTHORITY_HOST = saved;
    }
    expect(asked).toBe(0);
    expect(recordingProxy.requests).toEqual([]);
  });

  it("is refused by the transport before any connection, and a redirect to one is not followed", async () => {
    const transport = createTransport();
    const error = await transport
      .send({
        url: `http://${MADE_UP_HOST}/${TENANT}/oauth2/v2.0/token`,
        method: "POST",
        body: "client_assertion=secret",
        timeoutInMs: 5000,
        maxBodyBytes: 1024,
      })
      .catch((caught: unknown) => caught);
    recordSeen(error);
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/plain http only to loopback hosts/);
    transport.close();

    hostile.requests.length = 0;
    hostile.answer = () => ({
      status: 307,
      headers: { location: `http://${MADE_UP_HOST}/${TENANT}/oauth2/v2.0/token` },
    });
    const credential = new ClientAssertionCredential(TENANT, CLIENT_ID, () => federation.mint(), {
      authorityHost: hostile.url,
      retryOptions: { maxRetries: 0 },
    });
    const refused = await credential.getToken(SCOPE).catch((caught: unknown) => caught);
    expect(refused).toMatchObject({ code: "redirect_refused" });
    expect((refused as Error).message).toMatch(
      new RegExp(
        `307 with a redirect to http://${MADE_UP_HOST.replace(/\./g, "\\.")}; fedcred never follows redirects, so nothing was sent there`,
      ),
    );
    expect(hostile.requests).toHaveLength(1);
    expect(recordingProxy.requests).toEqual([]);
    await credential.close();
  });
});
