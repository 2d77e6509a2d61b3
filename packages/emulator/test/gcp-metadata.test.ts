import { decodeJwt } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { startEntra } from "../src/entra.js";
import { type GcpMetadataServer, startGcpMetadata } from "../src/gcp-metadata.js";
import { ASSERTION_TYPE, postToken } from "./support/token-request.js";

const TENANT = "3f6a1c2e-0000-4000-8000-00000000c9c1";
const APP = "9b2d4f6a-0000-4000-8000-00000000c9c2";
const EXCHANGE = "api://AzureADTokenExchange";
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function metadataServer(
  config?: Parameters<typeof startGcpMetadata>[0],
): Promise<GcpMetadataServer> {
  const server = await startGcpMetadata(config);
  closers.push(() => server.close());
  return server;
}

const identityPath = (account = "default", query = `audience=${EXCHANGE}&format=full`) =>
  `/computeMetadata/v1/instance/service-accounts/${account}/identity?${query}`;

async function get(server: GcpMetadataServer, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, { headers, redirect: "manual" });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

describe("startGcpMetadata", () => {
  it("answers the identity token as text, with Metadata-Flavor: Google, for the audience asked", async () => {
    const server = await metadataServer();
    const answer = await get(server, identityPath("default", `audience=${EXCHANGE}`), {
      "Metadata-Flavor": "Google",
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("metadata-flavor")).toBe("Google");
    const claims = decodeJwt(answer.body);
    const [account] = server.serviceAccounts;
    expect(claims).toMatchObject({
      iss: server.issuer,
      aud: EXCHANGE,
      sub: account?.uniqueId,
      azp: account?.uniqueId,
    });
    expect(claims.email).toBeUndefined();
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
    expect(server.identityTokenCount).toBe(1);
    expect(server.requests[0]?.query).toEqual({ audience: EXCHANGE });
  });

  it("format=full adds the email and google.compute_engine; an account is found by email too", async () => {
    const server = await metadataServer({
      serviceAccounts: [
        { email: "a@p.iam.gserviceaccount.com", uniqueId: "111111111111111111111" },
        { email: "b@p.iam.gserviceaccount.com", uniqueId: "222222222222222222222" },
      ],
      instance: { projectId: "acme-prod", zone: "us-east1-c" },
    });
    const answer = await get(server, identityPath("b@p.iam.gserviceaccount.com"), {
      "Metadata-Flavor": "Google",
    });
    const claims = decodeJwt(answer.body);
    expect(claims).toMatchObject({
      sub: "222222222222222222222",
      email: "b@p.iam.gserviceaccount.com",
      email_verified: true,
      google: { compute_engine: { project_id: "acme-prod", zone: "us-east1-c" } },
    });
  });

  it("refuses without Metadata-Flavor: Google, with X-Forwarded-For, and without an audience", async () => {
    const server = await metadataServer();
    expect((await get(server, identityPath())).status).toBe(403);
    expect((await get(server, identityPath(), { "Metadata-Flavor": "google" })).status).toBe(403);
    const proxied = await get(server, identityPath(), {
      "Metadata-Flavor": "Google",
      "X-Forwarded-For": "10.0.0.1",
    });
    expect(proxied.status).toBe(403);
    const noAudience = await get(server, identityPath("default", "format=full"), {
      "Metadata-Flavor": "Google",
    });
    expect(noAudience).toMatchObject({
      status: 400,
      body: "non-empty audience parameter required",
    });
    const unknown = await get(server, identityPath("nobody@p.iam.gserviceaccount.com"), {
      "Metadata-Flavor": "Google",
    });
    expect(unknown.status).toBe(404);
    expect(server.identityTokenCount).toBe(0);
    expect(server.requests.map((request) => request.status)).toEqual([403, 403, 403, 400, 404]);
  });

  it("plays queued faults after the header checks", async () => {
    const server = await metadataServer();
    server.faults.push({ status: 302, headers: { location: "http://127.0.0.1:1/" } });
    server.faults.push({ status: 200, body: "<html>", withoutFlavor: true });
    const headers = { "Metadata-Flavor": "Google" };
    const redirect = await get(server, identityPath(), headers);
    expect(redirect.status).toBe(302);
    const html = await get(server, identityPath(), headers);
    expect(html.headers.get("metadata-flavor")).toBeNull();
    expect(html.body).toBe("<html>");
    expect((await get(server, identityPath(), headers)).status).toBe(200);
  });

  it("its tokens pass the emulated Entra through a federated credential for the account's unique id", async () => {
    const server = await metadataServer();
    const [account] = server.serviceAccounts;
    const entra = await startEntra({
      tenants: [
        {
          tenantId: TENANT,
          apps: [
            {
              clientId: APP,
              federatedCredentials: [
                { issuer: server.issuer, subject: account?.uniqueId ?? "", audiences: [EXCHANGE] },
              ],
            },
          ],
        },
      ],
    });
    closers.push(() => entra.close());
    const token = (await get(server, identityPath(), { "Metadata-Flavor": "Google" })).body;
    const answer = await postToken(entra.tokenEndpoint(TENANT), {
      grant_type: "client_credentials",
      client_id: APP,
      scope: "https://storage.azure.com/.default",
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: token,
    });
    expect(answer.status).toBe(200);
    expect(typeof answer.body.access_token).toBe("string");
  });
});
