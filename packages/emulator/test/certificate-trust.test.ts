import { randomUUID } from "node:crypto";
import { importPKCS8, SignJWT } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type IssuedCertificate,
} from "../src/certificate-authority.js";
import { type EntraEmulator, startEntra } from "../src/entra.js";
import { createSelfSignedCertificate } from "../src/self-signed-certificate.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const tenantId = randomUUID();
const clientId = randomUUID();
const SUBJECT = "CN=billing.contoso.com, O=Contoso";

let entra: EntraEmulator;
let root: CertificateAuthority;
let issuing: CertificateAuthority;
let otherRoot: CertificateAuthority;
let direct: IssuedCertificate;
let viaIntermediate: IssuedCertificate;

beforeAll(async () => {
  [root, otherRoot] = await Promise.all([
    createCertificateAuthority({ commonName: "Contoso Root CA" }),
    createCertificateAuthority({ commonName: "Fabrikam Root CA" }),
  ]);
  issuing = await root.createIntermediate({ commonName: "Contoso Issuing CA" });
  [direct, viaIntermediate] = await Promise.all([
    root.issueCertificate({ subject: SUBJECT }),
    issuing.issueCertificate({ subject: SUBJECT }),
  ]);
  entra = await startEntra({
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId,
            trustedCertificateSubjects: [{ subject: SUBJECT, caCertificate: root.caCertificate }],
          },
        ],
      },
    ],
  });
});
afterAll(() => entra?.close());
beforeEach(() => entra.reset());

function x5cOf(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (match) => (match[1] ?? "").replace(/\s+/g, ""),
  );
}

async function assertion(
  signer: { privateKeyPem: string; x5t: string; x5tS256: string },
  options: {
    alg?: "PS256" | "RS256";
    x5c?: string[];
    header?: Record<string, unknown>;
    client?: string;
  } = {},
): Promise<string> {
  const alg = options.alg ?? "PS256";
  const now = Math.floor(Date.now() / 1000);
  const client = options.client ?? clientId;
  return new SignJWT({
    aud: entra.tokenEndpoint(tenantId),
    iss: client,
    sub: client,
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 600,
  })
    .setProtectedHeader({
      alg,
      typ: "JWT",
      ...(alg === "PS256" ? { "x5t#S256": signer.x5tS256 } : { x5t: signer.x5t }),
      ...(options.x5c ? { x5c: options.x5c } : {}),
      ...options.header,
    })
    .sign(await importPKCS8(signer.privateKeyPem, alg));
}

function post(jwt: string, client = clientId): ReturnType<typeof postToken> {
  return postToken(entra.tokenEndpoint(tenantId), {
    grant_type: "client_credentials",
    client_id: client,
    scope: "https://vault.azure.net/.default",
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: jwt,
  });
}

async function expect700027(jwt: string, reason: string): Promise<void> {
  const { status, body } = await post(jwt);
  expect({ status, error: body.error, codes: body.error_codes }).toEqual({
    status: 401,
    error: "invalid_client",
    codes: [700027],
  });
  expect(String(body.error_description)).toContain(reason);
}

describe("subject name + issuer trust", () => {
  it.each(["PS256", "RS256"] as const)(
    "%s: accepts an x5c leaf of the trusted subject, issued by the CA or through an intermediate",
    async (alg) => {
      for (const issued of [direct, viaIntermediate]) {
        const { status } = await post(
          await assertion(issued, { alg, x5c: x5cOf(issued.chainPem) }),
        );
        expect(status).toBe(200);
      }
      // The root itself may travel at the end of x5c, as full chains do.
      const full = [...x5cOf(viaIntermediate.chainPem), ...x5cOf(root.caCertificate)];
      expect((await post(await assertion(viaIntermediate, { alg, x5c: full }))).status).toBe(200);
    },
  );

  it("trusts an intermediate named as the CA", async () => {
    const clientOfIssuing = randomUUID();
    entra.addApp(tenantId, {
      clientId: clientOfIssuing,
      trustedCertificateSubjects: [
        { subject: "cn=billing.contoso.com,o=Contoso", caCertificate: issuing.caCertificate },
      ],
    });
    const jwt = await assertion(viaIntermediate, {
      x5c: x5cOf(viaIntermediate.chainPem),
      client: clientOfIssuing,
    });
    const { status } = await post(jwt, clientOfIssuing);
    expect(status).toBe(200);
  });

  it("refuses with 700027 without x5c, as Entra does", async () => {
    await expect700027(await assertion(direct), "The key was not found.");
  });

  it("refuses a chain that does not lead to the trusted CA", async () => {
    const foreign = await otherRoot.issueCertificate({ subject: SUBJECT });
    await expect700027(
      await assertion(foreign, { x5c: x5cOf(foreign.chainPem) }),
      "does not lead to the certificate authority",
    );
    // The intermediate left out: the leaf alone does not chain to the root.
    await expect700027(
      await assertion(viaIntermediate, { x5c: x5cOf(viaIntermediate.certificatePem) }),
      "does not lead to the certificate authority",
    );
  });

  it("refuses a leaf of another subject, and an x5c whose leaf is not the certificate the header names", async () => {
    const otherSubject = await root.issueCertificate({
      subject: "CN=reports.contoso.com, O=Contoso",
    });
    await expect700027(
      await assertion(otherSubject, { x5c: x5cOf(otherSubject.chainPem) }),
      "The key was not found.",
    );
    await expect700027(
      await assertion(otherSubject, { x5c: x5cOf(direct.chainPem) }),
      "The key was not found.",
    );
  });

  it("refuses an expired leaf", async () => {
    const expired = await root.issueCertificate({
      subject: SUBJECT,
      notBefore: new Date(Date.now() - 48 * 3600_000),
      notAfter: new Date(Date.now() - 24 * 3600_000),
    });
    await expect700027(await assertion(expired, { x5c: x5cOf(expired.chainPem) }), "not valid now");
  });

  it("refuses a forged leaf (signed by a key the CA never certified) and a signature by another key", async () => {
    const impostor = await createSelfSignedCertificate({ commonName: "billing.contoso.com" });
    // The impostor's key signs, the genuine chain travels: the signature does not verify.
    await expect700027(
      await assertion(
        { ...impostor, x5t: direct.x5t, x5tS256: direct.x5tS256 },
        { x5c: x5cOf(direct.chainPem) },
      ),
      "did not match the expected signature value",
    );
    // A self-issued certificate with the trusted subject's name is not issued by the CA.
    const selfIssued = await otherRoot.issueCertificate({ subject: SUBJECT });
    await expect700027(
      await assertion(selfIssued, {
        x5c: [...x5cOf(selfIssued.chainPem), ...x5cOf(root.caCertificate)],
      }),
      "does not lead to the certificate authority",
    );
  });

  it("refuses an x5c that is not a list of certificates as malformed", async () => {
    const { status, body } = await post(
      await assertion(direct, { x5c: ["bm90IGEgY2VydGlmaWNhdGU="] }),
    );
    expect({ status, codes: body.error_codes }).toEqual({ status: 400, codes: [50027] });
  });

  it("a registered thumbprint still wins, with or without x5c", async () => {
    const registered = await createSelfSignedCertificate();
    entra.addApp(tenantId, {
      clientId,
      certificates: [registered.certificatePem],
      trustedCertificateSubjects: [{ subject: SUBJECT, caCertificate: root.caCertificate }],
    });
    expect((await post(await assertion(registered))).status).toBe(200);
    expect(
      (await post(await assertion(registered, { x5c: x5cOf(registered.certificatePem) }))).status,
    ).toBe(200);
    expect((await post(await assertion(direct, { x5c: x5cOf(direct.chainPem) }))).status).toBe(200);
  });
});
