import { ClientAssertionCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { type Azurite, startAzurite } from "@fedcred/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Federation, startFederation } from "./support/federation.js";
import { testTls } from "./support/tls.js";

let federation: Federation;
let azurite: Azurite;
let blobUrl: string;

beforeAll(async () => {
  const tls = testTls();
  [federation, azurite] = await Promise.all([startFederation(), startAzurite(tls)]);
  blobUrl = azurite.url;
}, 30_000);

afterAll(async () => {
  await azurite?.close();
  await federation?.close();
});

function federatedCredential(): ClientAssertionCredential {
  return new ClientAssertionCredential(
    federation.tenantId,
    federation.clientId,
    federation.assertion,
    { authorityHost: federation.entra.authorityHost, disableInstanceDiscovery: true },
  );
}

describe("Entra emulator tokens against azurite", () => {
  it("let BlobServiceClient create a container and upload and download a blob", async () => {
    const credential = federatedCredential();
    const service = new BlobServiceClient(`${blobUrl}/devstoreaccount1`, credential);
    const container = service.getContainerClient(`fedcred-${Date.now()}`);
    await container.create();
    const blob = container.getBlockBlobClient("hello.txt");
    await blob.upload("hello from a federated token", 28);
    expect((await blob.downloadToBuffer()).toString()).toBe("hello from a federated token");
    expect(federation.entra.tokenRequestCount).toBe(1);
    expect(
      federation.entra.requests.find((request) => request.path.endsWith("/token"))?.form.scope,
    ).toBe("https://storage.azure.com/.default");
  });

  it("is refused by azurite when the token is for another resource", async () => {
    const credential = federatedCredential();
    const { token } = await credential.getToken("https://vault.azure.net/.default");
    const response = await fetch(`${blobUrl}/devstoreaccount1?comp=list`, {
      headers: { authorization: `Bearer ${token}`, "x-ms-version": "2021-12-02" },
    });
    const text = await response.text();
    expect(response.status).toBe(403);
    expect(text).toContain(
      "<AuthenticationErrorDetail>Invalid token audience.</AuthenticationErrorDetail>",
    );
  });
});
