import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientAssertionCredential } from "@azure/identity";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Federation, startFederation } from "./support/federation.js";
import { testTls } from "./support/tls.js";

let federation: Federation;
let azurite: ChildProcess;
let blobUrl: string;
let directory: string;

async function startAzurite(): Promise<string> {
  const tls = testTls();
  directory = mkdtempSync(join(tmpdir(), "fedcred-azurite-"));
  writeFileSync(join(directory, "cert.pem"), tls.cert);
  writeFileSync(join(directory, "key.pem"), tls.key);
  azurite = spawn(
    join(import.meta.dirname, "..", "node_modules", ".bin", "azurite-blob"),
    [
      "--oauth",
      "basic",
      "--cert",
      join(directory, "cert.pem"),
      "--key",
      join(directory, "key.pem"),
      "--inMemoryPersistence",
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
    ],
    { cwd: directory, stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`azurite did not start: ${output}`)), 20_000);
    azurite.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listens on (https:\/\/[\d.]+:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    azurite.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    azurite.on("exit", (code) => reject(new Error(`azurite exited ${code}: ${output}`)));
  });
}

beforeAll(async () => {
  [federation, blobUrl] = await Promise.all([startFederation(), startAzurite()]);
}, 30_000);

afterAll(async () => {
  azurite?.kill("SIGTERM");
  await federation?.close();
  if (directory) rmSync(directory, { recursive: true, force: true });
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
