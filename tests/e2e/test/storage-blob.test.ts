import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { ClientAssertionCredential } from "@fedcred/core";
import {
  type EntraEmulator,
  type KubernetesApi,
  type ProjectedVolume,
  startEntra,
  startKubernetes,
  startProjectedVolume,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";
import { type Azurite, startAzurite } from "@fedcred/test-support";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const TENANT = "5d1c0a9e-0000-4000-8000-0000000b10b0";
const APP = "5d1c0a9e-0000-4000-8000-0000000a0a0a";
const SUBJECT = "system:serviceaccount:prod:uploader";

let directory: string;
let azurite: Azurite;
let blobEndpoint: string;
let kubernetes: KubernetesApi;
let entra: EntraEmulator;
let volume: ProjectedVolume;

beforeAll(async () => {
  const tls = inject("tls");
  directory = await mkdtemp(join(tmpdir(), "fedcred-e2e-blob-"));
  azurite = await startAzurite({ cert: tls.serverCertificate, key: tls.serverKey });
  blobEndpoint = azurite.url;
  kubernetes = await startKubernetes({
    tlsAuthority: tls,
    serviceAccounts: [{ namespace: "prod", name: "uploader" }],
  });
  entra = await startEntra({
    trustedCertificates: [tls.caCertificate],
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            federatedCredentials: [
              {
                issuer: kubernetes.issuer,
                subject: SUBJECT,
                audiences: ["api://AzureADTokenExchange"],
              },
            ],
          },
        ],
      },
    ],
  });
  volume = await startProjectedVolume({
    directory: join(directory, "token"),
    fileName: "azure-identity-token",
    mint: {
      kubernetes,
      namespace: "prod",
      name: "uploader",
      audiences: ["api://AzureADTokenExchange"],
    },
  });
}, 60_000);

afterAll(async () => {
  await azurite?.close();
  await volume?.close();
  await Promise.all([entra?.close(), kubernetes?.close()]);
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe("@azure/storage-blob with fedcred's ClientAssertionCredential", () => {
  it("creates a container, uploads and downloads blobs, with one token request for all calls", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
    });
    const service = new BlobServiceClient(`${blobEndpoint}/devstoreaccount1`, credential);
    const container = service.getContainerClient("fedcred-e2e");
    await container.create();
    for (let i = 0; i < 5; i++) {
      await container.getBlockBlobClient(`blob-${i}.txt`).upload(`hello ${i}`, `hello ${i}`.length);
    }
    const download = await container.getBlockBlobClient("blob-3.txt").downloadToBuffer();
    expect(download.toString()).toBe("hello 3");
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    expect(names).toHaveLength(5);

    const tokenRequests = entra.requests.filter((request) =>
      request.path.endsWith("/oauth2/v2.0/token"),
    );
    expect(tokenRequests).toHaveLength(1);
    expect(tokenRequests[0]?.form.scope).toBe("https://storage.azure.com/.default");
    expect(tokenRequests[0]?.form.client_assertion).toBe(volume.token);
    await credential.close();
  });

  it("is refused by storage when the token is for another resource", async () => {
    const credential = new ClientAssertionCredential(TENANT, APP, fromFile({ path: volume.path }), {
      authorityHost: entra.url,
    });
    const wrongAudience = {
      getToken: () => credential.getToken("https://vault.azure.net/.default"),
    };
    const service = new BlobServiceClient(`${blobEndpoint}/devstoreaccount1`, wrongAudience);
    const error = await service
      .getContainerClient("refused")
      .create()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 403 });
    await credential.close();
  });
});
