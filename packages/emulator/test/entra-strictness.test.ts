import { randomUUID } from "node:crypto";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EntraEmulator, startEntra } from "../src/entra.js";
import { type OidcIssuer, startIssuer } from "../src/issuer.js";
import {
  createSelfSignedCertificate,
  type SelfSignedCertificate,
} from "../src/self-signed-certificate.js";
import { testTls } from "./support/tls.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

// What the emulator refuses because Entra refuses it, beyond entra.test.ts: the lifetime limit
// of external tokens (AADSTS70023), and the documented behaviours it deliberately keeps.

const tenantId = randomUUID();
const clientId = randomUUID();
const certificateClientId = randomUUID();
const subject = "system:serviceaccount:prod:billing";
const exchange = "api://AzureADTokenExchange";
const storage = "https://storage.azure.com/.default";
const DAY_AND_HOUR = 25 * 3600;

let entra: EntraEmulator;
let issuer: OidcIssuer;
let certificate: SelfSignedCertificate;

beforeAll(async () => {
  issuer = await startIssuer();
  certificate = await createSelfSignedCertificate();
  const tls = testTls();
  entra = await startEntra({
    tls: { cert: tls.cert, key: tls.key },
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId,
            federatedCredentials: [{ issuer: issuer.url, subject, audiences: [exchange] }],
          },
          { clientId: certificateClientId, certificates: [certificate.certificatePem] },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await entra?.close();
  await issuer?.close();
});

beforeEach(() => entra.reset());

function form(assertion: string, client = clientId): Record<string, string> {
  return {
    grant_type: "client_credentials",
    client_id: client,
    scope: storage,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
  };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

async function exchangeFederated(
  claims: Record<string, unknown>,
  audience: string | string[] = exchange,
) {
  const assertion = await issuer.mint({ subject, audience, claims });
  return postToken(entra.tokenEndpoint(tenantId), form(assertion));
}

describe("AADSTS70023: an external token may live at most 1 day 1 hour", () => {
  it("refuses a federated assertion that lives 26 hours, with Entra's status, error and text", async () => {
    const iat = nowSeconds();
    const exp = iat + 26 * 3600;
    const { status, body } = await exchangeFederated({ iat, nbf: iat, exp });
    expect(status).toBe(400);
    expect(body.error).toBe("invalid_request");
    expect(body.error_codes).toEqual([70023]);
    expect(body.error_description).toMatch(
      new RegExp(
        `^AADSTS70023: External OIDC Provider token must have a lifetime of less than or equal to 1\\.01:00:00\\. Token issued at ${iat}\\. Token expires on ${exp}\\.`,
      ),
    );
    expect(entra.requests.at(-1)?.errorCodes).toEqual([70023]);
  });

  it("accepts exactly 1 day 1 hour and refuses one second more", async () => {
    const iat = nowSeconds();
    const atLimit = await exchangeFederated({ iat, nbf: iat, exp: iat + DAY_AND_HOUR });
    expect(atLimit.status).toBe(200);
    const over = await exchangeFederated({ iat, nbf: iat, exp: iat + DAY_AND_HOUR + 1 });
    expect(over.status).toBe(400);
    expect(over.body.error_codes).toEqual([70023]);
  });

  it("refuses the week-long and year-long tokens the emulator used to accept", async () => {
    const iat = nowSeconds();
    for (const lifetime of [2 * 86_400, 7 * 86_400, 365 * 86_400]) {
      const { body } = await exchangeFederated({ iat, exp: iat + lifetime });
      expect(body.error_codes).toEqual([70023]);
    }
  });

  it("measures from iat, not from now: a token issued 25 hours ago that still lives an hour is refused", async () => {
    const now = nowSeconds();
    // iat far in the past is not refused by the validity window (only nbf/exp matter there):
    // the lifetime check alone refuses it.
    const { body } = await exchangeFederated({
      iat: now - 25 * 3600,
      nbf: now - 60,
      exp: now + 3600,
    });
    expect(body.error_codes).toEqual([70023]);
  });

  it("measures from nbf when the token has no iat", async () => {
    const now = nowSeconds();
    const { body } = await exchangeFederated({ iat: undefined, nbf: now, exp: now + 2 * 86_400 });
    expect(body.error_codes).toEqual([70023]);
    const fine = await exchangeFederated({ iat: undefined, nbf: now, exp: now + 3600 });
    expect(fine.status).toBe(200);
  });

  it("applies to every app's federated assertions before matching the FIC (an unknown issuer's long token is still 70023)", async () => {
    const other = await startIssuer();
    try {
      const iat = nowSeconds();
      const assertion = await other.mint({
        subject,
        audience: exchange,
        claims: { iat, exp: iat + 2 * 86_400 },
      });
      const { body } = await postToken(entra.tokenEndpoint(tenantId), form(assertion));
      expect(body.error_codes).toEqual([70023]);
      // The emulator did not even look up the foreign issuer's keys.
      expect(other.fetchCounts).toEqual({ discovery: 0, jwks: 0 });
    } finally {
      await other.close();
    }
  });

  it("does not apply to certificate assertions: Entra documents no limit on their exp", async () => {
    const now = nowSeconds();
    const { SignJWT, importPKCS8 } = await import("jose");
    const key = await importPKCS8(certificate.privateKeyPem, "PS256");
    const assertion = await new SignJWT({
      aud: entra.tokenEndpoint(tenantId),
      iss: certificateClientId,
      sub: certificateClientId,
      jti: randomUUID(),
      iat: now,
      nbf: now,
      exp: now + 2 * 86_400,
    })
      .setProtectedHeader({ alg: "PS256", typ: "JWT", "x5t#S256": certificate.x5tS256 })
      .sign(key);
    const { status } = await postToken(
      entra.tokenEndpoint(tenantId),
      form(assertion, certificateClientId),
    );
    expect(status).toBe(200);
  });
});

describe("documented behaviours the emulator keeps", () => {
  it("accepts a federated aud that is an array (Kubernetes service-account tokens send one)", async () => {
    const { status, body } = await exchangeFederated({}, [
      "https://kubernetes.default.svc",
      exchange,
    ]);
    expect(status).toBe(200);
    expect(decodeJwt(String(body.access_token)).aud).toBe("https://storage.azure.com");
  });

  it("accepts the same federated assertion twice: Entra does not refuse a replayed external token (token files are read again for every request)", async () => {
    const assertion = await issuer.mint({ subject, audience: exchange });
    const first = await postToken(entra.tokenEndpoint(tenantId), form(assertion));
    const second = await postToken(entra.tokenEndpoint(tenantId), form(assertion));
    expect([first.status, second.status]).toEqual([200, 200]);
  });

  it("refuses a federated assertion without exp as malformed (50027), and needs no jti", async () => {
    const now = nowSeconds();
    const noExp = await exchangeFederated({ exp: undefined, iat: now });
    expect(noExp.body.error_codes).toEqual([50027]);
    const noJti = await exchangeFederated({ jti: undefined });
    expect(noJti.status).toBe(200);
  });
});
