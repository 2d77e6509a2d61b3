import { randomUUID } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzurePipelinesOidc, startAzurePipelines } from "../src/azure-pipelines.js";
import { startEntra } from "../src/entra.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const EXCHANGE = "api://AzureADTokenExchange";
const DEPLOY = "6f2b1c9e-0000-4000-8000-000000000001";
const LOCKED = "6f2b1c9e-0000-4000-8000-000000000002";

interface Call {
  query?: string;
  token?: string | null;
  method?: string;
  suppress?: boolean;
}

async function requestToken(
  pipelines: AzurePipelinesOidc,
  call: Call = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = call.token === undefined ? pipelines.systemAccessToken : call.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (call.suppress !== false) headers["x-tfs-fedauthredirect"] = "Suppress";
  const response = await fetch(
    `${pipelines.oidcRequestUri}${call.query ?? `?api-version=7.1&serviceConnectionId=${DEPLOY}`}`,
    { method: call.method ?? "POST", headers, redirect: "manual" },
  );
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body, headers: response.headers };
}

describe("startAzurePipelines", () => {
  let pipelines: AzurePipelinesOidc;

  beforeAll(async () => {
    pipelines = await startAzurePipelines({
      organization: "contoso",
      project: "web",
      serviceConnections: [
        { id: DEPLOY, name: "prod-deploy" },
        { id: LOCKED, name: "locked", authorized: false },
      ],
    });
  });
  afterAll(() => pipelines.close());

  it("answers { oidcToken } with a token for the service connection's sc:// subject, verifiable through its issuer", async () => {
    expect(pipelines.oidcRequestUri).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/contoso\/[0-9a-f-]+\/_apis\/distributedtask\/hubs\/build\/plans\/[0-9a-f-]+\/jobs\/[0-9a-f-]+\/oidctoken$/,
    );
    const { status, body, headers } = await requestToken(pipelines);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(["oidcToken"]);
    expect(headers.get("x-vss-e2eid")).toMatch(/^[0-9a-f-]{36}$/);
    const discovery = (await (
      await fetch(`${pipelines.issuer}/.well-known/openid-configuration`)
    ).json()) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(pipelines.issuer);
    expect(pipelines.issuer).toBe(`${pipelines.url}/${pipelines.organizationId}`);
    const { payload } = await jwtVerify(
      body.oidcToken as string,
      createRemoteJWKSet(new URL(discovery.jwks_uri)),
      { issuer: pipelines.issuer, audience: EXCHANGE },
    );
    expect(payload).toMatchObject({
      sub: "sc://contoso/web/prod-deploy",
      org_id: pipelines.organizationId,
      rpo_ref: "refs/heads/main",
    });
    expect(pipelines.subject(DEPLOY)).toBe("sc://contoso/web/prod-deploy");
    expect((payload.exp as number) - (payload.iat as number)).toBe(600);
    expect(pipelines.requests.at(-1)).toMatchObject({
      method: "POST",
      apiVersion: "7.1",
      serviceConnectionId: DEPLOY,
      authorized: true,
      contentType: "application/json",
      fedAuthRedirect: "Suppress",
      status: 200,
    });
  });

  it("answers the pipeline's own token (p://) without serviceConnectionId", async () => {
    const { status, body } = await requestToken(pipelines, { query: "?api-version=7.1-preview.1" });
    expect(status).toBe(200);
    expect(decodeJwt(body.oidcToken as string).sub).toBe("p://contoso/web/web-ci");
  });

  it("refuses a wrong or missing access token: 401 with X-TFS-FedAuthRedirect: Suppress, else a redirect to a sign-in page", async () => {
    const before = pipelines.tokenCount;
    for (const token of [null, "not-the-access-token"]) {
      const refused = await requestToken(pipelines, { token });
      expect(refused.status).toBe(401);
      expect(refused.body.typeKey).toBe("UnauthorizedRequestException");
      expect(decodeURIComponent(refused.headers.get("x-tfs-serviceerror") ?? "")).toMatch(
        /^TF400813/,
      );
    }
    const redirected = await requestToken(pipelines, { token: "wrong", suppress: false });
    expect(redirected.status).toBe(302);
    const location = new URL(redirected.headers.get("location") ?? "");
    expect(location.origin).toBe(pipelines.url);
    const signIn = await fetch(location);
    expect(signIn.status).toBe(203);
    expect(signIn.headers.get("content-type")).toMatch(/^text\/html/);
    expect(pipelines.tokenCount).toBe(before);
  });

  it("refuses a missing or out-of-range api-version (400), GET (405), an unknown (404) or unauthorized (403) service connection", async () => {
    const missing = await requestToken(pipelines, { query: `?serviceConnectionId=${DEPLOY}` });
    expect(missing.status).toBe(400);
    expect(missing.body.typeKey).toBe("VssVersionNotSpecifiedException");
    const old = await requestToken(pipelines, {
      query: `?api-version=6.0&serviceConnectionId=${DEPLOY}`,
    });
    expect(old.status).toBe(400);
    expect(old.body.typeKey).toBe("VssVersionOutOfRangeException");
    expect((await requestToken(pipelines, { method: "GET" })).status).toBe(405);
    const unknown = await requestToken(pipelines, {
      query: `?api-version=7.1&serviceConnectionId=${randomUUID()}`,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.typeKey).toBe("ServiceEndpointNotFoundException");
    const locked = await requestToken(pipelines, {
      query: `?api-version=7.1&serviceConnectionId=${LOCKED}`,
    });
    expect(locked.status).toBe(403);
  });

  it("mints tokens the emulated Entra accepts through a FIC for the pipeline issuer and sc:// subject; refuses them once expired and after the job ended", async () => {
    const expiring = await startAzurePipelines({
      organization: "contoso",
      project: "web",
      serviceConnections: [{ id: DEPLOY, name: "prod-deploy" }],
      tokenLifetimeSeconds: -1,
    });
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const entra = await startEntra({
      clockSkewSeconds: 0,
      tenants: [
        {
          tenantId,
          apps: [
            {
              clientId,
              federatedCredentials: [pipelines, expiring].map((emulator) => ({
                issuer: emulator.issuer,
                subject: emulator.subject("prod-deploy"),
                audiences: [EXCHANGE],
              })),
            },
          ],
        },
      ],
    });
    const exchange = (assertion: string) =>
      postToken(entra.tokenEndpoint(tenantId), {
        grant_type: "client_credentials",
        client_id: clientId,
        scope: "https://management.azure.com/.default",
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
      });
    try {
      expect(
        (await exchange((await requestToken(pipelines)).body.oidcToken as string)).status,
      ).toBe(200);
      const expired = await exchange((await requestToken(expiring)).body.oidcToken as string);
      expect(expired.body.error_codes).toEqual([700024]);
      expiring.endJob();
      expect((await requestToken(expiring)).status).toBe(401);
    } finally {
      await Promise.all([entra.close(), expiring.close()]);
    }
  });
});
