import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientAssertionCredential, CredentialUnavailableError } from "@fedcred/core";
import { type ProjectedVolume, startProjectedVolume } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromProjectedServiceAccountToken } from "../src/index.js";
import { APP, EXCHANGE, type Federation, SCOPE, startFederation, TENANT } from "./cluster.js";

let federation: Federation;
let directory: string;
let volume: ProjectedVolume;
const savedFile = process.env.AZURE_FEDERATED_TOKEN_FILE;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-projected-"));
  federation = await startFederation();
  volume = await startProjectedVolume({
    directory: join(directory, "azure-identity-token"),
    fileName: "azure-identity-token",
    mint: {
      kubernetes: federation.kubernetes,
      namespace: "prod",
      name: "billing",
      audiences: [EXCHANGE],
    },
  });
});
afterAll(async () => {
  if (savedFile === undefined) delete process.env.AZURE_FEDERATED_TOKEN_FILE;
  else process.env.AZURE_FEDERATED_TOKEN_FILE = savedFile;
  await volume?.close();
  await federation?.close();
  await rm(directory, { recursive: true, force: true });
});

describe("fromProjectedServiceAccountToken", () => {
  it("reads the kubelet's projected token, which Entra exchanges and the resource accepts", async () => {
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromProjectedServiceAccountToken({ path: volume.path }),
      { authorityHost: federation.entra.url },
    );
    const token = await credential.getToken(SCOPE);
    const response = await fetch(federation.resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(federation.tokenRequests().at(-1)?.form.client_assertion).toBe(volume.token);
    await credential.close();
  });

  it("defaults to AZURE_FEDERATED_TOKEN_FILE, and says so when neither is set", async () => {
    process.env.AZURE_FEDERATED_TOKEN_FILE = volume.path;
    const assertion = fromProjectedServiceAccountToken();
    expect(
      await assertion({
        clientId: APP,
        tenantId: TENANT,
        authorityHost: federation.entra.url,
        tokenEndpoint: `${federation.entra.url}/${TENANT}/oauth2/v2.0/token`,
      }),
    ).toBe(volume.token);
    delete process.env.AZURE_FEDERATED_TOKEN_FILE;
    expect(() => fromProjectedServiceAccountToken()).toThrow(CredentialUnavailableError);
    expect(() => fromProjectedServiceAccountToken()).toThrow("AZURE_FEDERATED_TOKEN_FILE");
  });
});
