import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ClientAssertionCredential,
  type DetectAssertionOptions,
  detectAssertion,
} from "@fedcred/core";
import {
  type AzurePipelinesOidc,
  type EntraEmulator,
  type GcpMetadataServer,
  type GitHubActionsTokenService,
  type ImdsServer,
  type Lab,
  type ProtectedResource,
  startAzurePipelines,
  startEntra,
  startGcpMetadata,
  startGitHubActions,
  startImds,
  startLab,
  startResource,
} from "@fedcred/emulator";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from "vitest";

const TENANT = "4d2e3f5a-0000-4000-8000-00000000d1e1";
const APP = "9b8c7d6e-0000-4000-8000-00000000d1e2";
const HOME_TENANT = "4d2e3f5a-0000-4000-8000-00000000d1e3";
const SCOPE = "https://storage.azure.com/.default";
const EXCHANGE = "api://AzureADTokenExchange";
const SERVICE_CONNECTION = "6f2b1c9e-0000-4000-8000-00000000d1e4";
const GCP_UNIQUE_ID = "104729551318874960001";
const IDENTITY = {
  clientId: "11111111-0000-4000-8000-00000000d1e5",
  objectId: "11111111-0000-4000-8000-00000000d1e6",
};

let actions: GitHubActionsTokenService;
let pipelines: AzurePipelinesOidc;
let metadata: GcpMetadataServer;
let imds: ImdsServer;
let entra: EntraEmulator;
let resource: ProtectedResource;

beforeAll(async () => {
  [actions, pipelines, metadata, imds] = await Promise.all([
    startGitHubActions({ job: { repository: "acme/app", environment: "prod" } }),
    startAzurePipelines({
      organization: "acme",
      project: "app",
      serviceConnections: [{ id: SERVICE_CONNECTION, name: "prod" }],
    }),
    startGcpMetadata({
      serviceAccounts: [{ email: "app@acme.iam.gserviceaccount.com", uniqueId: GCP_UNIQUE_ID }],
    }),
    startImds({ tenantId: HOME_TENANT, identities: [IDENTITY] }),
  ]);
  entra = await startEntra({
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              {
                name: "actions",
                issuer: actions.issuer,
                subject: actions.subject,
                audiences: [EXCHANGE],
              },
              {
                name: "pipelines",
                issuer: pipelines.issuer,
                subject: pipelines.subject("prod"),
                audiences: [EXCHANGE],
              },
              {
                name: "gcp",
                issuer: metadata.issuer,
                subject: GCP_UNIQUE_ID,
                audiences: [EXCHANGE],
              },
              {
                name: "mi",
                issuer: imds.issuer,
                subject: IDENTITY.objectId,
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
});

afterAll(async () => {
  await Promise.all([
    resource?.close(),
    entra?.close(),
    actions?.close(),
    pipelines?.close(),
    metadata?.close(),
    imds?.close(),
  ]);
});

beforeEach(() => entra.reset());

async function accessWith(
  options: DetectAssertionOptions,
): Promise<{ reason: string; issuer: string }> {
  const getAssertion = detectAssertion(options);
  const credential = new ClientAssertionCredential(TENANT, APP, getAssertion, {
    authorityHost: entra.url,
  });
  try {
    const token = await credential.getToken(SCOPE);
    const response = await fetch(resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT });
    const [request] = entra.requests.filter((entry) => entry.path.endsWith("/oauth2/v2.0/token"));
    const assertion = String(request?.form.client_assertion);
    const claims = JSON.parse(
      Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString(),
    ) as {
      iss: string;
    };
    return { reason: getAssertion.reason, issuer: claims.iss };
  } finally {
    await credential.close();
  }
}

describe("detectAssertion picks each platform's real provider, end to end", () => {
  it("GitHub Actions", async () => {
    const { reason, issuer } = await accessWith({
      env: {
        GITHUB_ACTIONS: "true",
        ACTIONS_ID_TOKEN_REQUEST_URL: actions.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: actions.requestToken,
      },
    });
    expect(reason).toBe(
      "GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set",
    );
    expect(issuer).toBe(actions.issuer);
    expect(actions.tokenCount).toBeGreaterThan(0);
  });

  it("Azure Pipelines, in an AzureCLI@2 task", async () => {
    const { reason, issuer } = await accessWith({
      env: {
        TF_BUILD: "True",
        SYSTEM_OIDCREQUESTURI: pipelines.oidcRequestUri,
        SYSTEM_ACCESSTOKEN: pipelines.systemAccessToken,
        AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: SERVICE_CONNECTION,
      },
    });
    expect(reason).toBe(
      "Azure Pipelines: SYSTEM_OIDCREQUESTURI and AZURESUBSCRIPTION_SERVICE_CONNECTION_ID are set",
    );
    expect(issuer).toBe(pipelines.issuer);
    expect(pipelines.requests.at(-1)?.serviceConnectionId).toBe(SERVICE_CONNECTION);
  });

  it("GCP, by GCE_METADATA_HOST", async () => {
    const { reason, issuer } = await accessWith({ env: { GCE_METADATA_HOST: metadata.host } });
    expect(reason).toBe("GCP metadata: GCE_METADATA_HOST is set");
    expect(issuer).toBe(metadata.issuer);
    expect(metadata.identityTokenCount).toBeGreaterThan(0);
  });

  it("an App Service managed identity, in another tenant than the app", async () => {
    const { reason, issuer } = await accessWith({
      env: { IDENTITY_ENDPOINT: imds.identityEndpoint, IDENTITY_HEADER: imds.identityHeader },
    });
    expect(reason).toBe("managed identity: IDENTITY_ENDPOINT and IDENTITY_HEADER are set");
    expect(issuer).toBe(imds.issuer);
    expect(imds.requests.some((request) => request.endpoint === "app-service")).toBe(true);
  });

  it("with several present, the one of highest precedence, naming the others", async () => {
    const { reason, issuer } = await accessWith({
      env: {
        GCE_METADATA_HOST: metadata.host,
        ACTIONS_ID_TOKEN_REQUEST_URL: actions.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: actions.requestToken,
        IDENTITY_ENDPOINT: imds.identityEndpoint,
        IDENTITY_HEADER: imds.identityHeader,
      },
    });
    expect(reason).toBe(
      "GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set; also seen, lower in precedence: GCP metadata (GCE_METADATA_HOST is set), managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)",
    );
    expect(issuer).toBe(actions.issuer);
  });
});

describe("detectAssertion on AWS, with the real @fedcred/aws and AWS SDK", () => {
  let lab: Lab;
  let directory: string;

  beforeAll(async () => {
    // The lab's servers chain to the CA the global setup put in NODE_EXTRA_CA_CERTS.
    lab = await startLab({ tlsAuthority: inject("tls") });
    directory = await mkdtemp(join(tmpdir(), "fedcred-e2e-aws-"));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await lab?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it("picks AWS from the access keys, and STS's token for the role is accepted by the resource", async () => {
    // The AWS SDK reads its credentials from process.env, and talks only to the lab's STS.
    const empty = join(directory, "empty");
    await writeFile(empty, "");
    const aws: Record<string, string> = {
      AWS_ACCESS_KEY_ID: lab.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: lab.env.AWS_SECRET_ACCESS_KEY,
      AWS_SESSION_TOKEN: lab.env.AWS_SESSION_TOKEN,
      AWS_REGION: lab.env.AWS_REGION,
      AWS_ENDPOINT_URL_STS: lab.env.AWS_ENDPOINT_URL_STS,
      AWS_SHARED_CREDENTIALS_FILE: empty,
      AWS_CONFIG_FILE: empty,
      AWS_EC2_METADATA_DISABLED: "true",
    };
    for (const [name, value] of Object.entries(aws)) vi.stubEnv(name, value);
    // As scripts/turbo.mjs sets it for every test run: the SDK's Node-version notice is noise here.
    vi.stubEnv("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", "true");
    const getAssertion = detectAssertion({ env: aws });
    expect(getAssertion.reason).toBe(
      "AWS: AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set",
    );
    const credential = new ClientAssertionCredential(lab.tenantId, lab.clientId, getAssertion, {
      authorityHost: lab.env.AZURE_AUTHORITY_HOST,
    });
    try {
      const token = await credential.getToken(lab.env.FEDCRED_RESOURCE_SCOPE);
      const response = await fetch(lab.env.FEDCRED_RESOURCE_URL, {
        headers: { authorization: `Bearer ${token.token}` },
      });
      expect(response.status).toBe(200);
      const [request] = lab.entra.requests.filter((entry) =>
        entry.path.endsWith("/oauth2/v2.0/token"),
      );
      const assertion = String(request?.form.client_assertion);
      const claims = JSON.parse(
        Buffer.from(assertion.split(".")[1] ?? "", "base64url").toString(),
      ) as {
        sub: string;
      };
      expect(claims.sub).toBe(lab.subjects.aws);
    } finally {
      await credential.close();
    }
  });
});
