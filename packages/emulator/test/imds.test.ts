import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { startEntra } from "../src/entra.js";
import { type ImdsServer, startImds } from "../src/imds.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const TENANT = "3f6a1c2e-0000-4000-8000-00000000d1d1";
const APP = "9b2d4f6a-0000-4000-8000-00000000d1d2";
const EXCHANGE = "api://AzureADTokenExchange";
const SYSTEM = {
  clientId: "11111111-0000-4000-8000-000000000001",
  objectId: "11111111-0000-4000-8000-0000000000a1",
};
const BILLING = {
  clientId: "22222222-0000-4000-8000-000000000002",
  objectId: "22222222-0000-4000-8000-0000000000a2",
  resourceId:
    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing",
  userAssigned: true,
};
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function imdsServer(config?: Parameters<typeof startImds>[0]): Promise<ImdsServer> {
  const server = await startImds(config ?? { identities: [SYSTEM, BILLING] });
  closers.push(() => server.close());
  return server;
}

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Record<string, string> };
}

const imdsUrl = (server: ImdsServer, query: string) =>
  `${server.imdsEndpoint}?api-version=2018-02-01&resource=${encodeURIComponent(EXCHANGE)}${query}`;
const appServiceUrl = (server: ImdsServer, query: string) =>
  `${server.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(EXCHANGE)}${query}`;

describe("startImds: IMDS", () => {
  it("answers a token of the system-assigned identity, its fields as strings", async () => {
    const server = await imdsServer();
    const answer = await get(imdsUrl(server, ""), { Metadata: "true" });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      resource: EXCHANGE,
      token_type: "Bearer",
      client_id: SYSTEM.clientId,
      expires_in: "86399",
    });
    expect(Number(answer.body.expires_on)).toBeGreaterThan(Date.now() / 1000);
    const claims = decodeJwt(answer.body.access_token ?? "");
    expect(claims).toMatchObject({
      iss: `${server.authorityHost}/${server.tenantId}/v2.0`,
      sub: SYSTEM.objectId,
      oid: SYSTEM.objectId,
      aud: EXCHANGE,
      tid: server.tenantId,
      ver: "2.0",
    });
    expect(server.issuer).toBe(claims.iss);
  });

  it("selects a user-assigned identity by client_id, msi_res_id or object_id, one at a time", async () => {
    const server = await imdsServer();
    for (const query of [
      `&client_id=${BILLING.clientId}`,
      `&msi_res_id=${encodeURIComponent(BILLING.resourceId)}`,
      `&object_id=${BILLING.objectId}`,
    ]) {
      const answer = await get(imdsUrl(server, query), { Metadata: "true" });
      expect(decodeJwt(answer.body.access_token ?? "").sub, query).toBe(BILLING.objectId);
    }
    const both = await get(
      imdsUrl(server, `&client_id=${BILLING.clientId}&object_id=${BILLING.objectId}`),
      {
        Metadata: "true",
      },
    );
    expect(both.status).toBe(400);
    const unknown = await get(imdsUrl(server, "&client_id=33333333-0000-4000-8000-000000000003"), {
      Metadata: "true",
    });
    expect(unknown).toMatchObject({
      status: 400,
      body: { error_description: "Identity not found" },
    });
    expect(server.tokenCount).toBe(3);
  });

  it("refuses without Metadata: true, api-version, resource; with X-Forwarded-For; for an unknown resource", async () => {
    const server = await imdsServer();
    expect((await get(imdsUrl(server, ""))).body.error_description).toBe(
      "Required metadata header not specified",
    );
    const noVersion = await get(`${server.imdsEndpoint}?resource=${EXCHANGE}`, {
      Metadata: "true",
    });
    expect(noVersion.status).toBe(400);
    const noResource = await get(`${server.imdsEndpoint}?api-version=2018-02-01`, {
      Metadata: "true",
    });
    expect(noResource.body.error_description).toBe("Required audience parameter not specified");
    const proxied = await get(imdsUrl(server, ""), {
      Metadata: "true",
      "X-Forwarded-For": "10.0.0.9",
    });
    expect(proxied.status).toBe(400);
    const other = await get(
      `${server.imdsEndpoint}?api-version=2018-02-01&resource=https://vault.azure.net`,
      { Metadata: "true" },
    );
    expect(other.body.error).toBe("invalid_resource");
    expect(server.tokenCount).toBe(0);
  });

  it("asks for a selector when only user-assigned identities exist, and takes the only one", async () => {
    const two = await imdsServer({
      identities: [BILLING, { ...BILLING, clientId: "x", objectId: "y" }],
    });
    expect((await get(imdsUrl(two, ""), { Metadata: "true" })).body.error_description).toMatch(
      /Multiple user assigned identities/,
    );
    const one = await imdsServer({ identities: [BILLING] });
    expect((await get(imdsUrl(one, ""), { Metadata: "true" })).status).toBe(200);
  });
});

describe("startImds: App Service", () => {
  it("needs X-IDENTITY-HEADER and api-version 2019-08-01; selects by client_id, mi_res_id, principal_id", async () => {
    const server = await imdsServer();
    expect((await get(appServiceUrl(server, ""))).status).toBe(401);
    expect((await get(appServiceUrl(server, ""), { "X-IDENTITY-HEADER": "guess" })).status).toBe(
      401,
    );
    const header = { "X-IDENTITY-HEADER": server.identityHeader };
    const wrongVersion = await get(
      `${server.identityEndpoint}?api-version=2018-02-01&resource=${EXCHANGE}`,
      header,
    );
    expect(wrongVersion.status).toBe(400);
    const system = await get(appServiceUrl(server, ""), header);
    expect(system.body).toMatchObject({ resource: EXCHANGE, token_type: "Bearer" });
    expect(system.body.expires_in).toBeUndefined();
    for (const query of [
      `&client_id=${BILLING.clientId}`,
      `&mi_res_id=${encodeURIComponent(BILLING.resourceId)}`,
      `&principal_id=${BILLING.objectId}`,
    ]) {
      const answer = await get(appServiceUrl(server, query), header);
      expect(decodeJwt(answer.body.access_token ?? "").sub, query).toBe(BILLING.objectId);
    }
  });
});

describe("startImds: federation", () => {
  it("its tokens pass the emulated Entra through a federated credential for the identity's object id", async () => {
    const server = await imdsServer();
    const entra = await startEntra({
      tenants: [
        {
          tenantId: TENANT,
          apps: [
            {
              clientId: APP,
              federatedCredentials: [
                { issuer: server.issuer, subject: BILLING.objectId, audiences: [EXCHANGE] },
              ],
            },
          ],
        },
      ],
    });
    closers.push(() => entra.close());
    const request = async (query: string) =>
      postToken(entra.tokenEndpoint(TENANT), {
        grant_type: "client_credentials",
        client_id: APP,
        scope: "https://storage.azure.com/.default",
        client_assertion_type: ASSERTION_TYPE,
        client_assertion:
          (await get(imdsUrl(server, query), { Metadata: "true" })).body.access_token ?? "",
      });
    const granted = await request(`&client_id=${BILLING.clientId}`);
    expect(granted.status).toBe(200);
    // The system-assigned identity is another subject: no federated credential names it.
    const refused = await request("");
    expect(refused.status).toBe(401);
    expect(refused.body.error_codes).toEqual([700213]);
  });
});
