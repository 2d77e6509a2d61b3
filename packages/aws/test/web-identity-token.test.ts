import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  ClientAssertionCredential,
} from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { fromAwsWebIdentityToken } from "../src/index.js";
import {
  ACCOUNT,
  APP,
  BILLING_SESSION,
  claimsOf,
  EXCHANGE,
  type Federation,
  headerOf,
  REGION,
  REPORTS_SESSION,
  ROLE_ARN,
  SCOPE,
  startFederation,
  TENANT,
} from "./federation.js";

let federation: Federation;
const credentials: ClientAssertionCredential[] = [];

beforeAll(async () => {
  federation = await startFederation();
});
afterAll(() => federation?.close());
afterEach(async () => {
  for (const credential of credentials.splice(0)) await credential.close();
  federation.entra.reset();
  vi.unstubAllEnvs();
});

function credentialFor(assertion: AssertionFunc): ClientAssertionCredential {
  const credential = new ClientAssertionCredential(TENANT, APP, assertion, {
    authorityHost: federation.entra.url,
    retryOptions: { maxRetries: 0 },
  });
  credentials.push(credential);
  return credential;
}

const context: AssertionContext = {
  clientId: APP,
  tenantId: TENANT,
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
};

async function resourceAnswer(token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(federation.resource.url, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

describe("fromAwsWebIdentityToken against the emulated STS and Entra ID", () => {
  it("gets an RS256 token for the role that Entra exchanges and the resource accepts", async () => {
    const before = federation.webIdentityRequests().length;
    const credential = credentialFor(
      fromAwsWebIdentityToken({ clientConfig: federation.clientConfig() }),
    );
    const token = await credential.getToken(SCOPE);
    expect(await resourceAnswer(token.token)).toEqual({
      status: 200,
      body: expect.objectContaining({ appid: APP, tid: TENANT, roles: ["Blob.Read"] }),
    });

    const asked = federation.webIdentityRequests().slice(before);
    expect(asked).toHaveLength(1);
    // The defaults, explicit on the wire, signed (SigV4 checked) with the session's keys.
    expect(asked[0]).toMatchObject({
      accessKeyId: BILLING_SESSION.accessKeyId,
      status: 200,
      params: {
        Action: "GetWebIdentityToken",
        Version: "2011-06-15",
        "Audience.member.1": EXCHANGE,
        SigningAlgorithm: "RS256",
        DurationSeconds: "300",
      },
    });
    const [exchange] = federation.tokenRequests();
    const assertion = exchange?.form.client_assertion ?? "";
    expect(headerOf(assertion).alg).toBe("RS256");
    expect(claimsOf(assertion)).toMatchObject({
      iss: federation.sts.issuer(ACCOUNT),
      // The role's ARN, not the assumed-role session's.
      sub: ROLE_ARN,
      aud: EXCHANGE,
    });
  });

  it("finds region, endpoint and keys where the SDK's default chain looks: the environment", async () => {
    vi.stubEnv("AWS_REGION", REGION);
    vi.stubEnv("AWS_ENDPOINT_URL_STS", federation.sts.url);
    vi.stubEnv("AWS_ACCESS_KEY_ID", BILLING_SESSION.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", BILLING_SESSION.secretAccessKey);
    vi.stubEnv("AWS_SESSION_TOKEN", BILLING_SESSION.sessionToken ?? "");
    const before = federation.webIdentityRequests().length;
    const credential = credentialFor(fromAwsWebIdentityToken());
    const token = await credential.getToken(SCOPE);
    expect((await resourceAnswer(token.token)).status).toBe(200);
    expect(federation.webIdentityRequests().slice(before)).toMatchObject([
      { accessKeyId: BILLING_SESSION.accessKeyId, status: 200 },
    ]);
  });

  it("signs for options.region: the emulated STS checks the SigV4 credential scope names its region", async () => {
    const before = federation.webIdentityRequests().length;
    const { region: _region, ...config } = federation.clientConfig();
    const jwt = await fromAwsWebIdentityToken({ region: REGION, clientConfig: config })(context);
    expect(claimsOf(jwt)["https://sts.amazonaws.com/"]).toMatchObject({ source_region: REGION });
    const wrong = fromAwsWebIdentityToken({ region: "us-east-2", clientConfig: config });
    await expect(Promise.resolve(wrong(context))).rejects.toMatchObject({
      code: "assertion_failed",
      message: expect.stringContaining("STS said: Credential should be scoped to a valid region."),
    });
    expect(
      federation
        .webIdentityRequests()
        .slice(before)
        .map((request) => request.status),
    ).toEqual([200, 403]);
  });

  it("sends with an STSClient it is given", async () => {
    const client = new STSClient(federation.clientConfig());
    const before = federation.sts.requests.length;
    await client.send(new GetCallerIdentityCommand({}));
    const jwt = await fromAwsWebIdentityToken({ client })(context);
    expect(claimsOf(jwt).sub).toBe(ROLE_ARN);
    expect(federation.sts.requests.slice(before).map((request) => request.action)).toEqual([
      "GetCallerIdentity",
      "GetWebIdentityToken",
    ]);
  });

  it("sends the audiences, algorithm, duration and tags as given", async () => {
    const before = federation.webIdentityRequests().length;
    const assertion = fromAwsWebIdentityToken({
      clientConfig: federation.clientConfig(),
      audience: ["api://AzureADTokenExchangeUSGov", "https://api.example.com"],
      durationSeconds: 900,
      tags: { team: "billing", "cost-center": "4711" },
    });
    const jwt = await assertion(context);
    expect(federation.webIdentityRequests().slice(before)[0]?.params).toEqual({
      Action: "GetWebIdentityToken",
      Version: "2011-06-15",
      "Audience.member.1": "api://AzureADTokenExchangeUSGov",
      "Audience.member.2": "https://api.example.com",
      SigningAlgorithm: "RS256",
      DurationSeconds: "900",
      "Tags.member.1.Key": "team",
      "Tags.member.1.Value": "billing",
      "Tags.member.2.Key": "cost-center",
      "Tags.member.2.Value": "4711",
    });
    const claims = claimsOf(jwt) as { exp: number; iat: number } & Record<string, unknown>;
    expect(claims.aud).toEqual(["api://AzureADTokenExchangeUSGov", "https://api.example.com"]);
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims["https://sts.amazonaws.com/"]).toMatchObject({
      request_tags: { team: "billing", "cost-center": "4711" },
    });
  });

  it("sends tags of any letters, digits, spaces and _ . : / = + - @, and empty values", async () => {
    const tags = { Größe: "groß", "app:tier 1": "a/b=c+d@e-f_g.h", "cost-center": "" };
    const jwt = await fromAwsWebIdentityToken({ clientConfig: federation.clientConfig(), tags })(
      context,
    );
    expect(federation.webIdentityRequests().at(-1)?.params).toMatchObject({
      "Tags.member.1.Key": "Größe",
      "Tags.member.1.Value": "groß",
      "Tags.member.2.Key": "app:tier 1",
      "Tags.member.2.Value": "a/b=c+d@e-f_g.h",
      "Tags.member.3.Key": "cost-center",
    });
    expect(claimsOf(jwt)["https://sts.amazonaws.com/"]).toMatchObject({ request_tags: tags });
  });

  it("shares one STS call among concurrent token requests, keeps the token, and asks anew on forceRefresh", async () => {
    const before = federation.webIdentityRequests().length;
    const credential = credentialFor(
      fromAwsWebIdentityToken({ clientConfig: federation.clientConfig() }),
    );
    const scopes = Array.from(
      { length: 20 },
      (_, index) => `https://resource-${index}.test/.default`,
    );
    await Promise.all(scopes.map((scope) => credential.getToken(scope)));
    expect(federation.entra.tokenRequestCount).toBe(20);
    expect(federation.webIdentityRequests().length - before).toBe(1);
    const assertions = new Set(
      federation.tokenRequests().map((request) => request.form.client_assertion),
    );
    expect(assertions.size).toBe(1);

    const assertion = fromAwsWebIdentityToken({ clientConfig: federation.clientConfig() });
    const first = await assertion(context);
    expect(await assertion(context)).toBe(first);
    const fresh = await assertion({ ...context, forceRefresh: true });
    expect(fresh).not.toBe(first);
    expect(await assertion(context)).toBe(fresh);
    expect(federation.webIdentityRequests().length - before).toBe(3);
  });

  it("a role no federated credential names: Entra's 700213 names the role ARN the subject must be", async () => {
    const credential = credentialFor(
      fromAwsWebIdentityToken({ clientConfig: federation.clientConfig(REPORTS_SESSION) }),
    );
    const error = (await credential
      .getToken(SCOPE)
      .catch((caught: unknown) => caught)) as AuthenticationError;
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.errorResponse?.errorCodes).toContain(700213);
    expect(error.message).toContain(`sub "arn:aws:iam::${ACCOUNT}:role/reports"`);
    expect(error.message).toContain(`iss "${federation.sts.issuer(ACCOUNT)}"`);
    expect(error.message).not.toContain(REPORTS_SESSION.secretAccessKey);
  });
});
