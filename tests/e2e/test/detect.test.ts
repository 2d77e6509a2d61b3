import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ClientAssertionCredential,
  CredentialUnavailableError,
  chainAssertions,
  detectAssertion,
} from "@fedcred/core";
import {
  createTlsAuthority,
  type EntraEmulator,
  type KubernetesApi,
  type ProjectedVolume,
  type ProtectedResource,
  startEntra,
  startKubernetes,
  startProjectedVolume,
  startResource,
} from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TENANT = "4d2e3f5a-0000-4000-8000-00000000d0e1";
const APP = "9b8c7d6e-0000-4000-8000-00000000d0e2";
const SCOPE = "https://storage.azure.com/.default";
const EXCHANGE = "api://AzureADTokenExchange";
const SUBJECT = "system:serviceaccount:prod:detected";
const E2E_DIRECTORY = fileURLToPath(new URL("..", import.meta.url));

let directory: string;
let kubernetes: KubernetesApi;
let entra: EntraEmulator;
let resource: ProtectedResource;
let volume: ProjectedVolume;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-e2e-detect-"));
  const tlsAuthority = await createTlsAuthority();
  kubernetes = await startKubernetes({
    tlsAuthority,
    serviceAccounts: [{ namespace: "prod", name: "detected" }],
  });
  entra = await startEntra({
    trustedCertificates: [tlsAuthority.caCertificate],
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
    mint: { kubernetes, namespace: "prod", name: "detected", audiences: [EXCHANGE] },
  });
});

afterAll(async () => {
  await volume?.close();
  await Promise.all([resource?.close(), entra?.close(), kubernetes?.close()]);
  await rm(directory, { recursive: true, force: true });
});

describe("detectAssertion with a real provider package installed", () => {
  it("picks the token file, loads @fedcred/file, and the token it gets is accepted by the resource", async () => {
    const getAssertion = detectAssertion({
      env: {
        AZURE_FEDERATED_TOKEN_FILE: volume.path,
        AWS_ACCESS_KEY_ID: "AKIA",
        AWS_SECRET_ACCESS_KEY: "s",
      },
    });
    expect(getAssertion.source).toBe("token file");
    expect(getAssertion.packageName).toBe("@fedcred/file");
    expect(getAssertion.reason).toBe(
      `token file: AZURE_FEDERATED_TOKEN_FILE is set (${volume.path}); also seen, lower in precedence: AWS (AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set)`,
    );
    const credential = new ClientAssertionCredential(TENANT, APP, getAssertion, {
      authorityHost: entra.url,
    });
    const token = await credential.getToken(SCOPE);
    const response = await fetch(resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT });
    const sent = entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
    expect(sent.map((request) => request.form.client_assertion)).toEqual([volume.token]);

    // The file is read on every token request: the rotated token is the one sent next.
    await volume.rotate();
    await credential.getToken("https://vault.azure.net/.default");
    expect(entra.requests.at(-1)?.form.client_assertion).toBe(volume.token);
    await credential.close();
  });

  it("in a chain, an environment with nothing detected moves on to the next source", async () => {
    const nothing = detectAssertion({ env: {} });
    const chained = chainAssertions(
      nothing,
      detectAssertion({ env: { AZURE_FEDERATED_TOKEN_FILE: volume.path } }),
    );
    const credential = new ClientAssertionCredential(TENANT, APP, chained, {
      authorityHost: entra.url,
    });
    await expect(credential.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    await credential.close();

    const error = await Promise.resolve(
      chainAssertions(
        nothing,
        detectAssertion({ env: { AZURE_FEDERATED_TOKEN_FILE: join(directory, "absent") } }),
      )({
        clientId: APP,
        tenantId: TENANT,
        authorityHost: entra.url,
        tokenEndpoint: `${entra.url}/${TENANT}/oauth2/v2.0/token`,
      }),
    ).catch((e: unknown) => e as Error);
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    const lines = (error as Error).message.split("\n");
    expect(lines[0]).toBe("No assertion source is available:");
    expect(lines[1]).toMatch(
      /^- source 1: No assertion source detected: checked AZURE_FEDERATED_TOKEN_FILE;/,
    );
    expect(lines[2]).toMatch(/^- token file: The token file .*absent does not exist/);
  });

  it.each([
    ["CommonJS", "const { detectAssertion } = require('@fedcred/core');", "commonjs"],
    ["ES modules", "import { detectAssertion } from '@fedcred/core';", "module"],
  ])("loads the provider from the %s build of core", async (_name, load, inputType) => {
    const tokenFile = join(directory, `token-${inputType}`);
    await writeFile(tokenFile, "header.payload.signature\n");
    const script = `${load}
      const getAssertion = detectAssertion({ env: { AZURE_FEDERATED_TOKEN_FILE: ${JSON.stringify(tokenFile)} } });
      Promise.resolve(getAssertion({})).then((token) => console.log(getAssertion.source + ": " + token), (error) => console.log(error.message));`;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [`--input-type=${inputType}`, "-e", script], {
        cwd: E2E_DIRECTORY,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", () => resolve(text.trim()));
    });
    expect(output).toBe("token file: header.payload.signature");
  });
});
