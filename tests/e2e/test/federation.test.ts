import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationError, ClientAssertionCredential } from "@fedcred/core";
import {
  createTlsAuthority,
  type EntraEmulator,
  type KubernetesApi,
  type OidcIssuer,
  type ProjectedVolume,
  type ProtectedResource,
  startEntra,
  startIssuer,
  startKubernetes,
  startProjectedVolume,
  startResource,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const TENANT = "3c1d2b4a-0000-4000-8000-00000000e2e0";
const APP = "8a7b6c5d-0000-4000-8000-00000000a990";
const CI_APP = "8a7b6c5d-0000-4000-8000-00000000c100";
const SCOPE = "https://storage.azure.com/.default";
const EXCHANGE = "api://AzureADTokenExchange";
const SUBJECT = "system:serviceaccount:prod:billing";

let directory: string;
let kubernetes: KubernetesApi;
let issuer: OidcIssuer;
let entra: EntraEmulator;
let resource: ProtectedResource;
let volume: ProjectedVolume;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-e2e-"));
  const tls = await createTlsAuthority();
  kubernetes = await startKubernetes({
    tlsAuthority: tls,
    serviceAccounts: [
      { namespace: "prod", name: "billing" },
      { namespace: "prod", name: "reports" },
    ],
  });
  issuer = await startIssuer();
  entra = await startEntra({
    trustedCertificates: [tls.caCertificate],
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              { issuer: kubernetes.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
            ],
          },
          {
            clientId: CI_APP,
            federatedCredentials: [
              {
                issuer: issuer.issuer,
                subject: "repo:acme/app:ref:refs/heads/main",
                audiences: [EXCHANGE],
              },
            ],
          },
        ],
      },
    ],
  });
  resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://storage.azure.com",
  });
  volume = await startProjectedVolume({
    directory: join(directory, "volume"),
    fileName: "azure-identity-token",
    mint: { kubernetes, namespace: "prod", name: "billing", audiences: [EXCHANGE] },
  });
});

afterAll(async () => {
  await volume?.close();
  await Promise.all([resource?.close(), entra?.close(), issuer?.close(), kubernetes?.close()]);
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => entra.reset());

function tokenRequests(): EntraEmulatorRequest[] {
  return entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
}
type EntraEmulatorRequest = EntraEmulator["requests"][number];

describe("a Kubernetes workload through the projected token file", () => {
  it("gets a token Entra issued for the federated credential, and the resource accepts it", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
    });
    const token = await credential.getToken(SCOPE);
    const response = await fetch(resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT, roles: ["Blob.Read"] });

    const [request] = tokenRequests();
    expect(request?.status).toBe(200);
    expect(request?.form).toEqual({
      client_id: APP,
      scope: SCOPE,
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: volume.token,
    });
    await credential.close();
  });

  it("sends one request for 100 concurrent callers and none for cache hits", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
    });
    await Promise.all(Array.from({ length: 100 }, () => credential.getToken(SCOPE)));
    await Promise.all(Array.from({ length: 100 }, () => credential.getToken([SCOPE])));
    expect(entra.tokenRequestCount).toBe(1);
    await credential.close();
  });

  it("uses the rotated token file after the kubelet swaps it", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
    });
    await credential.getToken(SCOPE);
    const before = volume.token;
    await volume.rotate();
    expect(volume.token).not.toBe(before);
    await credential.getToken("https://vault.azure.net/.default");
    expect(tokenRequests().map((request) => request.form.client_assertion)).toEqual([
      before,
      volume.token,
    ]);
    await credential.close();
  });

  it("rides out Entra throttling and outages with retries", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
      retryOptions: { retryDelayInMs: 10 },
    });
    entra.injectFault({ kind: "status", status: 429, retryAfter: 1 });
    entra.injectFault({ kind: "html", status: 503 });
    entra.injectFault({ kind: "drop" });
    const token = await credential.getToken(SCOPE);
    expect(token.tokenType).toBe("Bearer");
    // The emulator logs a dropped connection with status 0: no answer was sent.
    expect(tokenRequests().map((request) => request.status)).toEqual([429, 503, 0, 200]);
    expect(entra.tokenRequestCount).toBe(4);
    await credential.close();
  });

  it("names the assertion's issuer, subject and audience when no federated credential matches", async () => {
    const reports = await kubernetes.mintServiceAccountToken({
      namespace: "prod",
      name: "reports",
      audiences: [EXCHANGE],
    });
    const credential = new ClientAssertionCredential(TENANT, APP, () => reports.token, {
      authorityHost: entra.url,
    });
    const error = (await credential
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.statusCode).toBe(401);
    expect(error.errorResponse?.errorCodes).toEqual([700213]);
    expect(error.errorResponse?.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toContain(`iss "${kubernetes.issuer}"`);
    expect(error.message).toContain('sub "system:serviceaccount:prod:reports"');
    expect(error.message).not.toContain(reports.token);
    expect(tokenRequests()).toHaveLength(1);
  });
});

describe("a CI job with an OIDC token", () => {
  it("exchanges the issuer's token for an access token", async () => {
    const assertion = await issuer.mint({
      subject: "repo:acme/app:ref:refs/heads/main",
      audience: EXCHANGE,
    });
    const credential = new ClientAssertionCredential(TENANT, CI_APP, async () => assertion, {
      authorityHost: entra.url,
    });
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(tokenRequests()[0]?.status).toBe(200);
  });

  it("asks for a fresh assertion once when Entra finds the first one expired", async () => {
    const assertions = [
      await issuer.mint({
        subject: "repo:acme/app:ref:refs/heads/main",
        audience: EXCHANGE,
        lifetimeSeconds: -3600,
      }),
      await issuer.mint({ subject: "repo:acme/app:ref:refs/heads/main", audience: EXCHANGE }),
    ];
    let calls = 0;
    const credential = new ClientAssertionCredential(TENANT, CI_APP, () => assertions[calls++]!, {
      authorityHost: entra.url,
    });
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(calls).toBe(2);
    expect(tokenRequests().map((request) => [request.status, request.errorCodes])).toEqual([
      [401, [700024]],
      [200, undefined],
    ]);
  });

  it("gets CAE tokens with the cp1 capability", async () => {
    const assertion = await issuer.mint({
      subject: "repo:acme/app:ref:refs/heads/main",
      audience: EXCHANGE,
    });
    const credential = new ClientAssertionCredential(TENANT, CI_APP, () => assertion, {
      authorityHost: entra.url,
    });
    const token = await credential.getToken(SCOPE, { enableCae: true });
    const payload = JSON.parse(Buffer.from(token.token.split(".")[1]!, "base64url").toString());
    expect(payload.xms_cc).toEqual(["cp1"]);
    expect(tokenRequests()[0]?.form.claims).toBe('{"access_token":{"xms_cc":{"values":["cp1"]}}}');
  });
});
