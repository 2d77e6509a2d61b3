import { ClientAssertionCredential } from "@azure/identity";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type ProtectedResource, startResource } from "../src/resource.js";
import { type Federation, startFederation } from "./support/federation.js";
import { testTls } from "./support/tls.js";

let federation: Federation;
let resource: ProtectedResource;
let credential: ClientAssertionCredential;

beforeAll(async () => {
  federation = await startFederation({ roles: ["Blob.Read"] });
  const tls = testTls();
  resource = await startResource({
    entra: federation.entra,
    tenantId: federation.tenantId,
    audience: "https://storage.azure.com",
    tls: { cert: tls.cert, key: tls.key },
  });
  credential = new ClientAssertionCredential(
    federation.tenantId,
    federation.clientId,
    federation.assertion,
    {
      authorityHost: federation.entra.authorityHost,
      disableInstanceDiscovery: true,
    },
  );
});

afterAll(async () => {
  await resource?.close();
  await federation?.close();
});

afterEach(() => {
  vi.useRealTimers();
});

function call(token?: string): Promise<Response> {
  return fetch(resource.url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

describe("startResource", () => {
  it("answers who called when the token is an emulator token for its audience", async () => {
    const { token } = await credential.getToken("https://storage.azure.com/.default");
    const response = await call(token);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      appid: federation.clientId,
      oid: expect.any(String),
      tid: federation.tenantId,
      roles: ["Blob.Read"],
    });
  });

  it("challenges a request without a token, without an error code", async () => {
    const response = await call();
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(
      /^Bearer authorization_uri="https:\/\/localhost:\d+\/[0-9a-f-]+\/oauth2\/authorize", resource_id="https:\/\/storage.azure.com"$/,
    );
  });

  it("refuses a token for another audience, a forged one and an expired one", async () => {
    const { token: vault } = await credential.getToken("https://vault.azure.net/.default");
    const wrongAudience = await call(vault);
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers.get("www-authenticate")).toContain(
      'error="invalid_token", error_description="The token\'s aud claim is not valid"',
    );

    const other = await startFederation();
    try {
      const foreign = new ClientAssertionCredential(
        federation.tenantId,
        other.clientId,
        other.assertion,
        {
          authorityHost: other.entra.authorityHost,
          disableInstanceDiscovery: true,
        },
      );
      // A token from another Entra for the same tenant id and audience: only the signature differs.
      other.entra.addApp(federation.tenantId, {
        clientId: other.clientId,
        federatedCredentials: [
          {
            issuer: other.issuer.url,
            subject: other.subject,
            audiences: ["api://AzureADTokenExchange"],
          },
        ],
      });
      const { token: forged } = await foreign.getToken("https://storage.azure.com/.default");
      const refused = await call(forged);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
    } finally {
      await other.close();
    }

    const { token } = await credential.getToken("https://storage.azure.com/.default");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3600_000);
    const expired = await call(token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get("www-authenticate")).toContain(
      'error_description="The token is expired"',
    );
    expect(resource.counts).toEqual({ accepted: 1, refused: 4 });
  });

  it("refuses with 403 a caller without the roles it requires", async () => {
    const tls = testTls();
    const strict = await startResource({
      entra: federation.entra,
      tenantId: federation.tenantId,
      audience: "https://storage.azure.com",
      tls: { cert: tls.cert, key: tls.key },
      roles: ["Blob.Write"],
    });
    try {
      const { token } = await credential.getToken("https://storage.azure.com/.default");
      const response = await fetch(strict.url, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(403);
      expect(response.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    } finally {
      await strict.close();
    }
  });
});
