import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { AuthenticationError, ClientAssertionCredential, type FetchLike } from "@fedcred/core";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type EntraEmulator,
  type IssuedCertificate,
  startEntra,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  certificateCredential,
  type FromCertificateOptions,
  fromCertificate,
} from "../src/index.js";
import { createFixture, decodeJwt, encryptedKeyPem, type Fixture, pkcs12 } from "./fixtures.js";

const TENANT = "5b0c3f1e-0000-4000-8000-00000000c3e7";
const APP = "2d4c6e8a-0000-4000-8000-00000000c3e8";
const SCOPE = "https://vault.azure.net/.default";
const PASSWORD = "pfx password";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** An app that trusts a subject name and issuer instead of a registered certificate. */
const SNI_APP = "2d4c6e8a-0000-4000-8000-00000000c3e9";
const SNI_SUBJECT = "CN=billing.contoso.com, O=Contoso";

let entra: EntraEmulator;
let app: Fixture;
let unregistered: Fixture;
let root: CertificateAuthority;
let issued: IssuedCertificate;

beforeAll(async () => {
  [app, unregistered, root] = await Promise.all([
    createFixture({ subject: "CN=billing, O=Contoso" }),
    createFixture({ subject: "CN=billing, O=Contoso" }),
    createCertificateAuthority({ commonName: "Contoso Root CA" }),
  ]);
  const issuing = await root.createIntermediate({ commonName: "Contoso Issuing CA" });
  issued = await issuing.issueCertificate({ subject: SNI_SUBJECT });
  entra = await startEntra({
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          { clientId: APP, certificates: [app.certificatePem] },
          {
            clientId: SNI_APP,
            trustedCertificateSubjects: [
              { subject: SNI_SUBJECT, caCertificate: root.caCertificate },
            ],
          },
        ],
      },
    ],
  });
});
afterAll(() => entra?.close());
beforeEach(() => entra.reset());
afterEach(() => vi.useRealTimers());

function tokenRequests(): EntraEmulator["requests"] {
  return entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
}

/** What the emulated Entra received: the one token request's form, and its assertion decoded. */
function sent(): {
  form: Record<string, string>;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const requests = tokenRequests();
  expect(requests).toHaveLength(1);
  const form = requests[0]?.form ?? {};
  return { form, ...decodeJwt(form.client_assertion ?? "") };
}

const inputs: [string, () => FromCertificateOptions][] = [
  ["PEM bundle", () => ({ certificate: app.certificatePem + app.privateKeyPem })],
  ["separate key", () => ({ certificate: app.certificatePem, privateKey: app.privateKeyPem })],
  [
    "encrypted key",
    () => ({
      certificate: app.certificatePem,
      privateKey: encryptedKeyPem(app, PASSWORD),
      password: PASSWORD,
    }),
  ],
  [
    "PKCS#12, default encryption",
    () => ({ certificate: pkcs12(app, PASSWORD, "default"), password: PASSWORD }),
  ],
  [
    "PKCS#12, legacy encryption",
    () => ({ certificate: pkcs12(app, PASSWORD, "legacy"), password: PASSWORD }),
  ],
];
const cases = inputs.flatMap(([name, options]) =>
  (["PS256", "RS256"] as const).flatMap((algorithm) =>
    [false, true].map(
      (sendCertificateChain) => [name, algorithm, sendCertificateChain, options] as const,
    ),
  ),
);

describe("a registered certificate (thumbprint trust)", () => {
  it.each(cases)(
    "%s, %s, x5c %s: Entra issues a token for the assertion it checked",
    async (_name, algorithm, sendCertificateChain, options) => {
      const credential = certificateCredential(TENANT, APP, {
        ...options(),
        algorithm,
        sendCertificateChain,
        authorityHost: entra.url,
      });
      try {
        const token = await credential.getToken(SCOPE);
        expect(token.token).toMatch(/^ey/);
      } finally {
        await credential.close();
      }
      const { form, header, claims } = sent();
      expect(form).toMatchObject({
        grant_type: "client_credentials",
        client_id: APP,
        scope: SCOPE,
        client_assertion_type: ASSERTION_TYPE,
      });
      expect(header).toEqual({
        alg: algorithm,
        typ: "JWT",
        ...(algorithm === "PS256" ? { "x5t#S256": app.x5tS256 } : { x5t: app.x5t }),
        ...(sendCertificateChain ? { x5c: [app.certificateDer.toString("base64")] } : {}),
      });
      expect(claims).toEqual({
        aud: entra.tokenEndpoint(TENANT),
        iss: APP,
        sub: APP,
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        iat: expect.any(Number),
        nbf: claims.iat,
        exp: (claims.iat as number) + 600,
      });
      expect(tokenRequests()[0]?.status).toBe(200);
    },
  );

  it("fromCertificate with core's ClientAssertionCredential: one assertion per token request, never on a cache hit", async () => {
    const getAssertion = vi.fn(
      fromCertificate({ certificate: app.certificatePem + app.privateKeyPem }),
    );
    const credential = new ClientAssertionCredential(TENANT, APP, getAssertion, {
      authorityHost: entra.url,
    });
    try {
      const [first, second] = await Promise.all([
        credential.getToken(SCOPE),
        credential.getToken(SCOPE),
      ]);
      expect(second.token).toBe(first.token);
      await credential.getToken(SCOPE);
    } finally {
      await credential.close();
    }
    expect(getAssertion).toHaveBeenCalledTimes(1);
    expect(getAssertion.mock.calls[0]?.[0]).toMatchObject({
      clientId: APP,
      tenantId: TENANT,
      tokenEndpoint: entra.tokenEndpoint(TENANT),
    });
    expect(sent().claims.aud).toBe(entra.tokenEndpoint(TENANT));
  });
});

describe("subject name + issuer trust", () => {
  const chainOf = (pem: string): string[] =>
    [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END/g)].map((match) =>
      (match[1] ?? "").replace(/\s+/g, ""),
    );

  it.each([
    ["a PEM bundle", () => ({ certificate: issued.chainPem + issued.privateKeyPem })],
    [
      "a PKCS#12 file with its chain",
      () => ({
        certificate: pkcs12(
          { certificatePem: issued.certificatePem, privateKeyPem: issued.privateKeyPem },
          PASSWORD,
          "default",
          [{ certificatePem: issued.chainPem.slice(issued.certificatePem.length) }],
        ),
        password: PASSWORD,
      }),
    ],
  ] as const)(
    "sendCertificateChain on, %s: x5c carries the leaf then the intermediate, and Entra accepts it",
    async (_name, options) => {
      const credential = certificateCredential(TENANT, SNI_APP, {
        ...options(),
        sendCertificateChain: true,
        authorityHost: entra.url,
      });
      try {
        await credential.getToken(SCOPE);
      } finally {
        await credential.close();
      }
      const { header } = sent();
      expect(header.x5c).toEqual(chainOf(issued.chainPem));
      expect(header["x5t#S256"]).toBe(issued.x5tS256);
      expect(tokenRequests()[0]?.status).toBe(200);
    },
  );

  it("from the environment, as @azure/identity reads it", async () => {
    const directory = mkdtempSync(join(tmpdir(), "fedcred-sni-"));
    try {
      const path = join(directory, "bundle.pem");
      writeFileSync(path, issued.privateKeyPem + issued.chainPem, { mode: 0o600 });
      vi.stubEnv("AZURE_CLIENT_CERTIFICATE_PATH", path);
      vi.stubEnv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true");
      const credential = certificateCredential(TENANT, SNI_APP, { authorityHost: entra.url });
      await credential.getToken(SCOPE);
      await credential.close();
    } finally {
      vi.unstubAllEnvs();
      rmSync(directory, { recursive: true, force: true });
    }
    expect(sent().header.x5c).toHaveLength(2);
  });

  it("sendCertificateChain off: 700027, and the message says x5c was not sent", async () => {
    const credential = certificateCredential(TENANT, SNI_APP, {
      certificate: issued.chainPem + issued.privateKeyPem,
      authorityHost: entra.url,
    });
    const failure = credential.getToken(SCOPE);
    await expect(failure).rejects.toMatchObject({
      name: "AuthenticationError",
      errorResponse: { errorCodes: [700027] },
      message: expect.stringContaining(
        "and no x5c (sendCertificateChain is off: an app that trusts a subject name and issuer needs it on)",
      ),
    });
    await expect(failure).rejects.toThrow(`subject ${SNI_SUBJECT}, issuer CN=Contoso Issuing CA`);
    await credential.close();
    expect(sent().header).not.toHaveProperty("x5c");
  });
});

/** What `getToken` rejects with; the credential is closed after. */
async function refusalOf(credential: ClientAssertionCredential): Promise<unknown> {
  try {
    await credential.getToken(SCOPE);
  } catch (error) {
    return error;
  } finally {
    await credential.close();
  }
  throw new Error("getToken resolved; a refusal was expected");
}

describe("refusals", () => {
  it("an unregistered certificate: 700027 with core's hint and the thumbprints, x5c, subject and validity sent", async () => {
    const credential = certificateCredential(TENANT, APP, {
      certificate: unregistered.certificatePem + unregistered.privateKeyPem,
      authorityHost: entra.url,
    });
    const thrown = await refusalOf(credential);
    expect(AuthenticationError.isInstance(thrown)).toBe(true);
    const error = thrown as AuthenticationError;
    expect(error).toMatchObject({
      name: "AuthenticationError",
      code: "token_request_rejected",
      statusCode: 401,
      errorResponse: { error: "invalid_client", errorCodes: [700027] },
      clientRequestId: tokenRequests()[0]?.headers["client-request-id"],
    });
    const sha1Hex = Buffer.from(unregistered.x5t, "base64url").toString("hex").toUpperCase();
    const sha256Hex = Buffer.from(unregistered.x5tS256, "base64url").toString("hex").toUpperCase();
    expect(error.message).toContain("AADSTS700027");
    expect(error.message).toContain("upload the certificate (or check the thumbprint)");
    expect(error.message).toContain(`x5t#S256 ${unregistered.x5tS256}`);
    expect(error.message).toContain(`SHA-1 thumbprint ${sha1Hex}`);
    expect(error.message).toContain(`SHA-256 ${sha256Hex}`);
    expect(error.message).toContain("and no x5c");
    expect(error.message).toMatch(
      /subject CN=billing, O=Contoso, issuer CN=billing, O=Contoso, valid from \S+Z to \S+Z/,
    );
    expect(inspect(error)).not.toContain("PRIVATE KEY");
    expect(JSON.stringify(error)).toContain(sha1Hex);
  });

  it("says the same through a bare fromCertificate in ClientAssertionCredential (describeRefusal)", async () => {
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromCertificate({ certificate: unregistered.certificatePem + unregistered.privateKeyPem }),
      { authorityHost: entra.url },
    );
    const error = (await refusalOf(credential)) as AuthenticationError;
    expect(error.errorResponse?.errorCodes).toEqual([700027]);
    const sha1Hex = Buffer.from(unregistered.x5t, "base64url").toString("hex").toUpperCase();
    expect(error.message).toContain(`SHA-1 thumbprint ${sha1Hex}`);
    expect(error.message).toContain("and no x5c");
  });

  it("an assertion whose aud is another endpoint than the one called: 700023, with the audience and why", async () => {
    // A gateway between the credential and Entra: the URL called is not the authority host's.
    const viaGateway: FetchLike = (url, init) =>
      fetch(
        String(url).replace("https://login.microsoftonline.com", entra.url),
        init as RequestInit,
      );
    const credential = certificateCredential(TENANT, APP, {
      certificate: app.certificatePem + app.privateKeyPem,
      authorityHost: "https://login.microsoftonline.com",
      fetch: viaGateway,
    });
    const thrown = await refusalOf(credential);
    expect(thrown).toMatchObject({
      name: "AuthenticationError",
      errorResponse: { errorCodes: [700023] },
    });
    expect((thrown as Error).message).toContain(
      `The assertion's aud was https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
    );
    expect((thrown as Error).message).toContain(
      "Entra ID wants the exact URL it received the request at",
    );
    expect(sent().claims.aud).toBe(`https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`);
  });

  it("other refusals pass through unchanged", async () => {
    const credential = certificateCredential(TENANT, "00000000-0000-4000-8000-000000000000", {
      certificate: app.certificatePem + app.privateKeyPem,
      authorityHost: entra.url,
    });
    await expect(credential.getToken(SCOPE)).rejects.toMatchObject({
      errorResponse: { errorCodes: [700016] },
      message: expect.not.stringContaining("thumbprint"),
    });
    await credential.close();
  });
});

describe("a long-running credential", () => {
  it("reuses the assertion across access-token refreshes until a fifth of its lifetime is left, and never sends an expired one", async () => {
    // Only the clocks are faked (Date, and performance.now for the credential's cache): Entra,
    // the provider and the credential all read them, while sockets and timers run for real.
    const shortLived = await startEntra({
      accessTokenLifetimeSeconds: 60,
      tenants: [
        { tenantId: TENANT, apps: [{ clientId: APP, certificates: [app.certificatePem] }] },
      ],
    });
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const credential = certificateCredential(TENANT, APP, {
      certificate: app.certificatePem + app.privateKeyPem,
      lifetimeSeconds: 300,
      authorityHost: shortLived.url,
    });
    try {
      // Every 61 s the access token has expired: 10 refreshes span 10 minutes, two assertion lifetimes.
      for (let round = 0; round < 10; round++) {
        await credential.getToken(SCOPE);
        vi.advanceTimersByTime(61_000);
      }
    } finally {
      await credential.close();
      await shortLived.close();
    }
    const requests = shortLived.requests.filter((request) => request.path.endsWith("/token"));
    expect(requests).toHaveLength(10);
    expect(requests.every((request) => request.status === 200)).toBe(true);
    const assertions = requests.map((request) => request.form.client_assertion ?? "");
    // 300 s assertions, reused until 60 s before exp: a new one every fourth or fifth refresh.
    expect(new Set(assertions).size).toBe(3);
    for (const [index, request] of requests.entries()) {
      const { exp } = decodeJwt(assertions[index] ?? "").claims as { exp: number };
      expect(exp * 1000 - request.at.getTime()).toBeGreaterThanOrEqual(60_000);
    }
  });
});
