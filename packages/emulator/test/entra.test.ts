import { randomUUID } from "node:crypto";
import { ClientAssertionCredential, ClientCertificateCredential } from "@azure/identity";
import {
  createLocalJWKSet,
  decodeJwt,
  generateKeyPair,
  importPKCS8,
  jwtVerify,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type EntraEmulator, startEntra } from "../src/entra.js";
import { type OidcIssuer, startIssuer } from "../src/issuer.js";
import {
  createSelfSignedCertificate,
  type SelfSignedCertificate,
} from "../src/self-signed-certificate.js";
import { testTls } from "./support/tls.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const tenantId = randomUUID();
const federatedClientId = randomUUID();
const certificateClientId = randomUUID();
const objectId = randomUUID();
const subject = "system:serviceaccount:prod:Billing";
const exchange = "api://AzureADTokenExchange";
const storage = "https://storage.azure.com/.default";

let entra: EntraEmulator;
let issuer: OidcIssuer;
let certificate: SelfSignedCertificate;
let expiredCertificate: SelfSignedCertificate;

beforeAll(async () => {
  issuer = await startIssuer();
  [certificate, expiredCertificate] = await Promise.all([
    createSelfSignedCertificate(),
    createSelfSignedCertificate({
      notBefore: new Date(Date.now() - 48 * 3600_000),
      notAfter: new Date(Date.now() - 24 * 3600_000),
    }),
  ]);
  const tls = testTls();
  entra = await startEntra({
    tls: { cert: tls.cert, key: tls.key },
    tenants: [
      {
        tenantId,
        apps: [
          {
            clientId: federatedClientId,
            objectId,
            roles: ["Storage.Read"],
            federatedCredentials: [{ issuer: issuer.url, subject, audiences: [exchange] }],
          },
          {
            clientId: certificateClientId,
            certificates: [certificate.certificatePem, expiredCertificate.certificatePem],
          },
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

function federatedForm(
  assertion: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: "client_credentials",
    client_id: federatedClientId,
    scope: storage,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
    ...overrides,
  };
}

function mintFederated(
  overrides: Parameters<OidcIssuer["mint"]>[0] | object = {},
): Promise<string> {
  return issuer.mint({ subject, audience: exchange, ...overrides });
}

describe("Entra token endpoint, driven by @azure/identity", () => {
  it("exchanges a federated assertion for a v1 app token that verifies against the tenant keys", async () => {
    let assertionCalls = 0;
    const credential = new ClientAssertionCredential(
      tenantId,
      federatedClientId,
      async () => {
        assertionCalls += 1;
        return mintFederated();
      },
      { authorityHost: entra.authorityHost, disableInstanceDiscovery: true },
    );
    const token = await credential.getToken(storage);
    expect(token.token.split(".")).toHaveLength(3);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);
    expect(assertionCalls).toBeGreaterThanOrEqual(1);

    const { payload, protectedHeader } = await jwtVerify(
      token.token,
      createLocalJWKSet(entra.jwks()),
      {
        issuer: `https://sts.windows.net/${tenantId}/`,
        audience: "https://storage.azure.com",
      },
    );
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload).toMatchObject({
      appid: federatedClientId,
      appidacr: "2",
      idtyp: "app",
      oid: objectId,
      sub: objectId,
      tid: tenantId,
      roles: ["Storage.Read"],
      ver: "1.0",
    });
    expect(payload.xms_cc).toBeUndefined();
    expect(typeof payload.uti).toBe("string");
    expect(typeof payload.rh).toBe("string");
    expect((payload.exp as number) - (payload.iat as number)).toBe(3599);

    expect(entra.tokenRequestCount).toBe(1);
    const tokenRequests = entra.requests.filter((request) =>
      request.path.endsWith("/oauth2/v2.0/token"),
    );
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]).toMatchObject({
      method: "POST",
      tenant: tenantId,
      status: 200,
      form: {
        grant_type: "client_credentials",
        client_id: federatedClientId,
        scope: storage,
        client_assertion_type: ASSERTION_TYPE,
      },
    });
    expect(issuer.fetchCounts.discovery).toBeGreaterThanOrEqual(1);
  });

  it("adds xms_cc when the client declares the CAE capability", async () => {
    const credential = new ClientAssertionCredential(
      tenantId,
      federatedClientId,
      () => mintFederated(),
      {
        authorityHost: entra.authorityHost,
        disableInstanceDiscovery: true,
      },
    );
    const token = await credential.getToken(storage, { enableCae: true });
    expect(decodeJwt(token.token).xms_cc).toEqual(["cp1"]);
    const [request] = entra.requests.filter((record) => record.path.endsWith("/token"));
    expect(JSON.parse(request?.form.claims ?? "{}")).toMatchObject({
      access_token: { xms_cc: { values: ["cp1"] } },
    });
  });

  it("accepts a certificate assertion built by ClientCertificateCredential", async () => {
    const credential = new ClientCertificateCredential(
      tenantId,
      certificateClientId,
      { certificate: `${certificate.certificatePem}${certificate.privateKeyPem}` },
      { authorityHost: entra.authorityHost, disableInstanceDiscovery: true },
    );
    const token = await credential.getToken(storage);
    expect(decodeJwt(token.token).appid).toBe(certificateClientId);
    expect(entra.requests.at(-1)?.status).toBe(200);
  });

  it("surfaces a refusal's AADSTS code to @azure/identity", async () => {
    const credential = new ClientAssertionCredential(
      tenantId,
      federatedClientId,
      () => issuer.mint({ subject: "system:serviceaccount:prod:other", audience: exchange }),
      { authorityHost: entra.authorityHost, disableInstanceDiscovery: true },
    );
    await expect(credential.getToken(storage)).rejects.toThrow(/AADSTS700213/);
    expect(
      entra.requests.filter((record) => record.errorCodes?.[0] === 700213).length,
    ).toBeGreaterThanOrEqual(1);
  });
});

describe("Entra refusals", () => {
  async function expectRefusal(
    response: Promise<{ status: number; body: Record<string, unknown> }>,
    status: number,
    error: string,
    code: number,
  ): Promise<Record<string, unknown>> {
    const { status: actualStatus, body } = await response;
    expect({ status: actualStatus, error: body.error, codes: body.error_codes }).toEqual({
      status,
      error,
      codes: [code],
    });
    expect(String(body.error_description)).toMatch(new RegExp(`^AADSTS${code}: `));
    expect(entra.requests.at(-1)).toMatchObject({ status, error, errorCodes: [code] });
    return body;
  }

  it("writes Entra's error shape, echoing client-request-id as the correlation id", async () => {
    const correlation = randomUUID();
    const { body, headers } = await postToken(
      entra.tokenEndpoint(tenantId),
      federatedForm("not-a-jwt"),
      { "client-request-id": correlation },
    );
    expect(body.correlation_id).toBe(correlation);
    expect(headers.get("client-request-id")).toBe(correlation);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.error_uri).toBe("https://login.microsoftonline.com/error?code=50027");
    expect(body.error_description).toContain(
      `Trace ID: ${body.trace_id} Correlation ID: ${correlation} Timestamp: ${body.timestamp}`,
    );
  });

  it("refuses requests that are not POSTs of a form", async () => {
    const get = fetch(entra.tokenEndpoint(tenantId)).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    }));
    await expectRefusal(get, 400, "invalid_request", 900561);
    const json = fetch(entra.tokenEndpoint(tenantId), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(federatedForm(await mintFederated())),
    }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
    }));
    const body = await expectRefusal(json, 400, "invalid_request", 900144);
    expect(body.error_description).toContain("'grant_type'");
  });

  it("refuses malformed and unknown tenants", async () => {
    const form = federatedForm(await mintFederated());
    await expectRefusal(
      postToken(`${entra.url}/not_a_tenant!/oauth2/v2.0/token`, form),
      400,
      "invalid_request",
      900023,
    );
    await expectRefusal(
      postToken(entra.tokenEndpoint(randomUUID()), form),
      400,
      "invalid_request",
      90002,
    );
  });

  it("refuses missing parameters, other grants, unknown apps and bad scopes", async () => {
    const assertion = await mintFederated();
    const endpoint = entra.tokenEndpoint(tenantId);
    const without = (name: string): Record<string, string> => {
      const form = federatedForm(assertion);
      delete form[name];
      return form;
    };
    for (const name of ["grant_type", "client_id", "scope", "client_assertion_type"]) {
      const body = await expectRefusal(
        postToken(endpoint, without(name)),
        400,
        "invalid_request",
        900144,
      );
      expect(body.error_description).toContain(`'${name}'`);
    }
    await expectRefusal(
      postToken(endpoint, without("client_assertion")),
      401,
      "invalid_client",
      7000218,
    );
    await expectRefusal(
      postToken(endpoint, federatedForm(assertion, { client_assertion_type: "urn:example:saml" })),
      401,
      "invalid_client",
      7000218,
    );
    await expectRefusal(
      postToken(endpoint, federatedForm(assertion, { grant_type: "password" })),
      400,
      "unsupported_grant_type",
      70003,
    );
    await expectRefusal(
      postToken(endpoint, federatedForm(assertion, { client_id: randomUUID() })),
      400,
      "unauthorized_client",
      700016,
    );
    await expectRefusal(
      postToken(
        endpoint,
        federatedForm(assertion, { scope: "https://storage.azure.com/user_impersonation" }),
      ),
      400,
      "invalid_scope",
      1002012,
    );
    await expectRefusal(
      postToken(
        endpoint,
        federatedForm(assertion, { scope: `${storage} https://vault.azure.net/.default` }),
      ),
      400,
      "invalid_scope",
      70011,
    );
    await expectRefusal(
      postToken(endpoint, federatedForm(assertion, { claims: "{not json" })),
      400,
      "invalid_request",
      9002313,
    );
  });

  it("refuses assertions that are not JWTs or have the wrong typ", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    await expectRefusal(
      postToken(endpoint, federatedForm("abc.def")),
      400,
      "invalid_request",
      50027,
    );
    const wrongType = await mintFederated({ header: { typ: "at+jwt" } });
    await expectRefusal(
      postToken(endpoint, federatedForm(wrongType)),
      400,
      "invalid_request",
      5002727,
    );
    const openIdType = await mintFederated({ header: { typ: "http://openid.net/specs/jwt/1.0" } });
    expect((await postToken(endpoint, federatedForm(openIdType))).status).toBe(200);
  });

  it("refuses assertions outside their validity, allowing five minutes of skew", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintFederated({
      claims: { iat: now - 900, nbf: now - 900, exp: now - 301 },
    });
    const body = await expectRefusal(
      postToken(endpoint, federatedForm(expired)),
      401,
      "invalid_client",
      700024,
    );
    expect(body.error_description).toMatch(
      /Current time: \d{4}-\d\d-\d\dT[\d:.]+Z, assertion valid from/,
    );
    const early = await mintFederated({ claims: { nbf: now + 400, exp: now + 1000 } });
    await expectRefusal(postToken(endpoint, federatedForm(early)), 401, "invalid_client", 700024);
    const withinSkew = await mintFederated({
      claims: { iat: now - 900, nbf: now - 900, exp: now - 200 },
    });
    expect((await postToken(endpoint, federatedForm(withinSkew))).status).toBe(200);
    const earlyWithinSkew = await mintFederated({
      claims: { iat: now + 200, nbf: now + 200, exp: now + 900 },
    });
    expect((await postToken(endpoint, federatedForm(earlyWithinSkew))).status).toBe(200);
  });

  it("refuses a form that repeats a parameter with AADSTS9000411", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    for (const name of ["scope", "client_assertion", "client_id"]) {
      const form = new URLSearchParams(federatedForm(await mintFederated()));
      form.append(name, form.get(name) as string);
      const body = await expectRefusal(postToken(endpoint, form), 400, "invalid_request", 9000411);
      expect(body.error_description).toContain(`The parameter '${name}' is duplicated.`);
    }
  });

  it("matches federated credentials by issuer, then audience, then case-sensitive subject", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const other = await startIssuer();
    try {
      const foreign = await other.mint({ subject, audience: exchange });
      const body = await expectRefusal(
        postToken(endpoint, federatedForm(foreign)),
        401,
        "invalid_client",
        700211,
      );
      expect(body.error_description).toContain(`'${other.url}'`);
    } finally {
      await other.close();
    }
    const audience = await mintFederated({ audience: "api://AzureADTokenExchangeUSGov" });
    await expectRefusal(
      postToken(endpoint, federatedForm(audience)),
      401,
      "invalid_client",
      700212,
    );
    const wrongSubject = await mintFederated({ subject: "system:serviceaccount:prod:other" });
    await expectRefusal(
      postToken(endpoint, federatedForm(wrongSubject)),
      401,
      "invalid_client",
      700213,
    );
    const caseOnly = await mintFederated({ subject: subject.toLowerCase() });
    await expectRefusal(
      postToken(endpoint, federatedForm(caseOnly)),
      401,
      "invalid_client",
      7002138,
    );
    const manyAudiences = await mintFederated({
      audience: ["https://kubernetes.default.svc", exchange],
    });
    expect((await postToken(endpoint, federatedForm(manyAudiences))).status).toBe(200);
  });

  it("checks issuer before audience, audience before subject, and all three before the signature", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const stranger = await generateKeyPair("RS256");
    const publishedKid = issuer.jwks().keys[0]?.kid as string;
    const now = Math.floor(Date.now() / 1000);
    const forge = (claims: Record<string, unknown>): Promise<string> =>
      new SignJWT({
        iss: issuer.url,
        sub: subject,
        aud: exchange,
        iat: now,
        exp: now + 600,
        ...claims,
      })
        .setProtectedHeader({ alg: "RS256", kid: publishedKid, typ: "JWT" })
        .sign(stranger.privateKey);
    const everythingWrong = await forge({
      iss: "https://issuer.invalid",
      aud: "api://other",
      sub: "someone-else",
    });
    await expectRefusal(
      postToken(endpoint, federatedForm(everythingWrong)),
      401,
      "invalid_client",
      700211,
    );
    const audienceAndSubjectWrong = await forge({ aud: "api://other", sub: "someone-else" });
    await expectRefusal(
      postToken(endpoint, federatedForm(audienceAndSubjectWrong)),
      401,
      "invalid_client",
      700212,
    );
    const subjectWrongAndForged = await forge({ sub: "someone-else" });
    await expectRefusal(
      postToken(endpoint, federatedForm(subjectWrongAndForged)),
      401,
      "invalid_client",
      700213,
    );
    const onlyForged = await forge({});
    await expectRefusal(
      postToken(endpoint, federatedForm(onlyForged)),
      401,
      "invalid_client",
      700027,
    );
  });

  it("verifies the signature with the issuer's published key", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const stranger = await generateKeyPair("RS256");
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer.url, sub: subject, aud: exchange, iat: now, exp: now + 600 };
    const unknownKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "no-such-key", typ: "JWT" })
      .sign(stranger.privateKey);
    await expectRefusal(
      postToken(endpoint, federatedForm(unknownKid)),
      401,
      "invalid_client",
      700027,
    );
    const publishedKid = issuer.jwks().keys[0]?.kid as string;
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: publishedKid, typ: "JWT" })
      .sign(stranger.privateKey);
    const body = await expectRefusal(
      postToken(endpoint, federatedForm(forged)),
      401,
      "invalid_client",
      700027,
    );
    expect(body.error_description).toContain("did not match the expected signature value");
  });

  it("refuses other signing algorithms and unreachable issuers", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const ecIssuer = await startIssuer({ algorithm: "ES384" });
    const closed = await startIssuer();
    await closed.close();
    const clientId = randomUUID();
    entra.addApp(tenantId, {
      clientId,
      federatedCredentials: [
        { issuer: ecIssuer.url, subject, audiences: [exchange] },
        { issuer: closed.url, subject, audiences: [exchange] },
      ],
    });
    try {
      const ec = await ecIssuer.mint({ subject, audience: exchange });
      await expectRefusal(
        postToken(endpoint, federatedForm(ec, { client_id: clientId })),
        400,
        "invalid_request",
        5002730,
      );
      const unreachable = await closed.mint({ subject, audience: exchange });
      await expectRefusal(
        postToken(endpoint, federatedForm(unreachable, { client_id: clientId })),
        400,
        "invalid_request",
        501661,
      );
    } finally {
      await ecIssuer.close();
    }
  });

  it("caches the issuer's keys and fetches again once for an unknown kid", async () => {
    const endpoint = entra.tokenEndpoint(tenantId);
    const before = { ...issuer.fetchCounts };
    expect((await postToken(endpoint, federatedForm(await mintFederated()))).status).toBe(200);
    expect((await postToken(endpoint, federatedForm(await mintFederated()))).status).toBe(200);
    expect(issuer.fetchCounts.jwks - before.jwks).toBe(1);
    await issuer.rotateKeys();
    expect((await postToken(endpoint, federatedForm(await mintFederated()))).status).toBe(200);
    expect(issuer.fetchCounts.jwks - before.jwks).toBe(2);
  });

  describe("certificate assertions", () => {
    async function certificateAssertion(
      options: {
        signer?: SelfSignedCertificate;
        header?: Record<string, unknown>;
        claims?: Record<string, unknown>;
        alg?: "PS256" | "RS256";
      } = {},
    ): Promise<string> {
      const signer = options.signer ?? certificate;
      const alg = options.alg ?? "PS256";
      const now = Math.floor(Date.now() / 1000);
      const thumbprint = alg === "PS256" ? { "x5t#S256": signer.x5tS256 } : { x5t: signer.x5t };
      return new SignJWT({
        aud: entra.tokenEndpoint(tenantId),
        iss: certificateClientId,
        sub: certificateClientId,
        jti: randomUUID(),
        iat: now,
        nbf: now,
        exp: now + 600,
        ...options.claims,
      })
        .setProtectedHeader({ alg, typ: "JWT", ...thumbprint, ...options.header })
        .sign(await importPKCS8(signer.privateKeyPem, alg));
    }
    const certificateForm = (assertion: string): Record<string, string> =>
      federatedForm(assertion, { client_id: certificateClientId });

    it("accepts PS256 with x5t#S256 and RS256 with x5t", async () => {
      const endpoint = entra.tokenEndpoint(tenantId);
      const ps256 = await postToken(endpoint, certificateForm(await certificateAssertion()));
      expect(ps256.status).toBe(200);
      expect(ps256.body).toMatchObject({
        token_type: "Bearer",
        expires_in: 3599,
        ext_expires_in: 3599,
      });
      const rs256 = await postToken(
        endpoint,
        certificateForm(await certificateAssertion({ alg: "RS256" })),
      );
      expect(rs256.status).toBe(200);
    });

    it("refuses unknown thumbprints, expired certificates and bad signatures", async () => {
      const endpoint = entra.tokenEndpoint(tenantId);
      const unregistered = await createSelfSignedCertificate();
      await expectRefusal(
        postToken(endpoint, certificateForm(await certificateAssertion({ signer: unregistered }))),
        401,
        "invalid_client",
        700027,
      );
      const expired = await postToken(
        endpoint,
        certificateForm(await certificateAssertion({ signer: expiredCertificate })),
      );
      expect(expired.status).toBe(401);
      expect(expired.body.error_codes).toEqual([700027]);
      expect(expired.body.error_description).toContain("The key used is expired");
      const forged = await certificateAssertion({
        signer: unregistered,
        header: { "x5t#S256": certificate.x5tS256 },
      });
      const body = await expectRefusal(
        postToken(endpoint, certificateForm(forged)),
        401,
        "invalid_client",
        700027,
      );
      expect(body.error_description).toContain("did not match the expected signature value");
    });

    it("refuses an assertion whose iss and sub name another app than the form's client_id", async () => {
      const otherClientId = randomUUID();
      entra.addApp(tenantId, {
        clientId: otherClientId,
        certificates: [certificate.certificatePem],
      });
      const assertion = await certificateAssertion();
      const form = federatedForm(assertion, { client_id: otherClientId });
      await expectRefusal(
        postToken(entra.tokenEndpoint(tenantId), form),
        401,
        "invalid_client",
        700021,
      );
    });

    it("accepts a lifetime of a day: Entra's documentation says it places no limit on exp", async () => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await certificateAssertion({ claims: { nbf: now, exp: now + 86_400 } });
      const { status } = await postToken(entra.tokenEndpoint(tenantId), certificateForm(assertion));
      expect(status).toBe(200);
    });

    it("requires aud to be the token endpoint called, iss = sub = client id and a jti", async () => {
      const endpoint = entra.tokenEndpoint(tenantId);
      const wrongAudience = await certificateAssertion({
        claims: { aud: `https://login.microsoftonline.com/${tenantId}/oauth2/v2.0/token` },
      });
      await expectRefusal(
        postToken(endpoint, certificateForm(wrongAudience)),
        401,
        "invalid_client",
        700023,
      );
      const wrongIssuer = await certificateAssertion({ claims: { iss: federatedClientId } });
      await expectRefusal(
        postToken(endpoint, certificateForm(wrongIssuer)),
        401,
        "invalid_client",
        700021,
      );
      const wrongSubject = await certificateAssertion({ claims: { sub: federatedClientId } });
      await expectRefusal(
        postToken(endpoint, certificateForm(wrongSubject)),
        401,
        "invalid_client",
        700021,
      );
      const noJti = await certificateAssertion({ claims: { jti: undefined } });
      await expectRefusal(
        postToken(endpoint, certificateForm(noJti)),
        400,
        "invalid_request",
        50027,
      );
    });
  });
});

describe("Entra configuration", () => {
  it("issues tokens with the configured lifetime and refresh_in, for apps added at run time", async () => {
    const tls = testTls();
    const clientId = randomUUID();
    const shortLived = await startEntra({
      tls: { cert: tls.cert, key: tls.key },
      accessTokenLifetimeSeconds: 5,
      refreshInSeconds: 2,
    });
    try {
      shortLived.addApp(tenantId, {
        clientId,
        federatedCredentials: [{ issuer: issuer.url, subject, audiences: [exchange] }],
      });
      const { status, body } = await postToken(shortLived.tokenEndpoint(tenantId), {
        ...federatedForm(await mintFederated()),
        client_id: clientId,
      });
      expect(status).toBe(200);
      expect(body).toMatchObject({ expires_in: 5, ext_expires_in: 5, refresh_in: 2 });
      const claims = decodeJwt(String(body.access_token));
      expect((claims.exp as number) - (claims.iat as number)).toBe(5);
    } finally {
      await shortLived.close();
    }
  });

  it("refuses a 21st federated credential, as Entra does", async () => {
    const credentials = Array.from({ length: 21 }, (_, index) => ({
      issuer: issuer.url,
      subject: `subject-${index}`,
      audiences: [exchange],
    }));
    expect(() =>
      entra.addApp(tenantId, { clientId: randomUUID(), federatedCredentials: credentials }),
    ).toThrow(/at most 20/);
  });

  it("serves discovery documents, keys and instance metadata", async () => {
    const v2 = (await (
      await fetch(`${entra.url}/${tenantId}/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(v2.token_endpoint).toBe(entra.tokenEndpoint(tenantId));
    expect(v2.issuer).toBe(`${entra.url}/${tenantId}/v2.0`);
    const v1 = (await (
      await fetch(`${entra.url}/${tenantId}/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(v1.issuer).toBe(`https://sts.windows.net/${tenantId}/`);
    for (const path of [
      `${tenantId}/discovery/v2.0/keys`,
      `${tenantId}/discovery/keys`,
      "common/discovery/keys",
    ]) {
      const keys = (await (await fetch(`${entra.url}/${path}`)).json()) as {
        keys: { kid: string }[];
      };
      expect(keys.keys.map((key) => key.kid)).toEqual(entra.jwks().keys.map((key) => key.kid));
    }
    const instance = (await (
      await fetch(
        `${entra.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${entra.url}/${tenantId}/oauth2/v2.0/authorize`)}`,
      )
    ).json()) as Record<string, unknown>;
    expect(instance).toMatchObject({
      tenant_discovery_endpoint: `${entra.url}/${tenantId}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
    });
    const unknown = await fetch(
      `${entra.url}/${randomUUID()}/v2.0/.well-known/openid-configuration`,
    );
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error_codes: number[] }).error_codes).toEqual([90002]);
  });
});
