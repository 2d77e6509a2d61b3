import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { fromAwsWebIdentityToken } from "@fedcred/aws";
import { fromCertificate } from "@fedcred/certificate";
import { type AssertionFunc, ClientAssertionCredential, decodeJwtPayload } from "@fedcred/core";
import {
  type AwsPrincipal,
  type AwsSts,
  createSelfSignedCertificate,
  type EntraEmulator,
  type KubernetesApi,
  type OidcIssuer,
  type ProjectedVolume,
  type SelfSignedCertificate,
  startAwsSts,
  startEntra,
  startIssuer,
  startKubernetes,
  startProjectedVolume,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";
import { fromServiceAccountToken } from "@fedcred/kubernetes";
import { type Azurite, startAzurite } from "@fedcred/test-support";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

// A real Azure SDK client (@azure/storage-blob) against azurite (`--oauth basic`, HTTPS with the
// certificate this run's CA issued), authenticated by fedcred's ClientAssertionCredential fed by
// each provider through the emulator's Entra ID. azurite checks the bearer token's aud, iss, nbf,
// exp and iat; Entra checks each provider's assertion as it would in production.

const TENANT = "5d1c0a9e-0000-4000-8000-00000000b10b";
const EXCHANGE = "api://AzureADTokenExchange";
const STORAGE_SCOPE = "https://storage.azure.com/.default";
const APPS = {
  file: "5d1c0a9e-0000-4000-8000-000000000f11",
  kubernetes: "5d1c0a9e-0000-4000-8000-0000000008e5",
  aws: "5d1c0a9e-0000-4000-8000-000000000a35",
  certificate: "5d1c0a9e-0000-4000-8000-000000000ce7",
} as const;
type Provider = keyof typeof APPS;

const FILE_SUBJECT = "repo:contoso/uploader:ref:refs/heads/main";
const KUBERNETES_SUBJECT = "system:serviceaccount:prod:uploader";
const KUBERNETES_CALLER = "uploader-pod-bearer-token-0123456789";
const REGION = "eu-west-1";
const ACCOUNT = "111122223333";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/uploader`;
const SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDUPLOADER1",
  secretAccessKey: "uploader-secret-access-key-0123456789abcdef",
  sessionToken: "uploader-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/uploader/i-0123456789abcdef0`,
};

let directory: string;
let azurite: Azurite;
let issuer: OidcIssuer;
let volume: ProjectedVolume;
let kubernetes: KubernetesApi;
let sts: AwsSts;
let certificate: SelfSignedCertificate;
let entra: EntraEmulator;

beforeAll(async () => {
  const tls = inject("tls");
  directory = await mkdtemp(join(tmpdir(), "fedcred-e2e-blob-providers-"));
  [azurite, issuer, kubernetes, sts, certificate] = await Promise.all([
    startAzurite({ cert: tls.serverCertificate, key: tls.serverKey }),
    startIssuer(),
    startKubernetes({
      tlsAuthority: tls,
      serviceAccounts: [{ namespace: "prod", name: "uploader" }],
      callers: [
        {
          token: KUBERNETES_CALLER,
          user: "system:serviceaccount:prod:uploader",
          allow: [{ namespace: "prod", name: "uploader" }],
        },
      ],
    }),
    startAwsSts({
      region: REGION,
      accounts: [
        { accountId: ACCOUNT, outboundWebIdentityFederation: true, principals: [SESSION] },
      ],
    }),
    createSelfSignedCertificate(),
  ]);
  const theIssuer = issuer;
  volume = await startProjectedVolume({
    directory: join(directory, "token"),
    fileName: "azure-identity-token",
    mint: async () => ({
      token: await theIssuer.mint({ subject: FILE_SUBJECT, audience: EXCHANGE }),
      expiresAt: new Date(Date.now() + 3600_000),
    }),
  });
  const federated = (issuerUrl: string, subject: string) => [
    { issuer: issuerUrl, subject, audiences: [EXCHANGE] },
  ];
  entra = await startEntra({
    // The Kubernetes API's issuer serves its discovery document over HTTPS from this run's CA.
    trustedCertificates: [tls.caCertificate],
    tenants: [
      {
        tenantId: TENANT,
        resources: ["https://storage.azure.com"],
        apps: [
          { clientId: APPS.file, federatedCredentials: federated(issuer.url, FILE_SUBJECT) },
          {
            clientId: APPS.kubernetes,
            federatedCredentials: federated(kubernetes.issuer, KUBERNETES_SUBJECT),
          },
          { clientId: APPS.aws, federatedCredentials: federated(sts.issuer(ACCOUNT), ROLE_ARN) },
          { clientId: APPS.certificate, certificates: [certificate.certificatePem] },
        ],
      },
    ],
  });
}, 90_000);

afterAll(async () => {
  await azurite?.close();
  await volume?.close();
  await Promise.all([entra?.close(), kubernetes?.close(), sts?.close(), issuer?.close()]);
  if (directory) await rm(directory, { recursive: true, force: true });
});

function assertionSource(provider: Provider): AssertionFunc {
  switch (provider) {
    case "file":
      return fromFile({ path: volume.path });
    case "kubernetes": {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(
        JSON.stringify(kubernetes.kubeconfig({ token: KUBERNETES_CALLER })),
      );
      return fromServiceAccountToken({ serviceAccount: "uploader", namespace: "prod", kubeConfig });
    }
    case "aws":
      return fromAwsWebIdentityToken({
        clientConfig: {
          endpoint: sts.url,
          region: REGION,
          credentials: {
            accessKeyId: SESSION.accessKeyId,
            secretAccessKey: SESSION.secretAccessKey,
            sessionToken: SESSION.sessionToken as string,
          },
          maxAttempts: 1,
        },
      });
    case "certificate":
      return fromCertificate({
        certificate: certificate.certificatePem + certificate.privateKeyPem,
      });
  }
}

/** What the assertion Entra received must show of its provider. */
function expectAssertionOf(provider: Provider, assertion: string): void {
  const claims = decodeJwtPayload(assertion);
  const header = JSON.parse(
    Buffer.from(assertion.split(".")[0] as string, "base64url").toString("utf8"),
  ) as Record<string, unknown>;
  switch (provider) {
    case "file":
      expect(assertion).toBe(volume.token);
      expect(claims).toMatchObject({ iss: issuer.url, sub: FILE_SUBJECT, aud: EXCHANGE });
      break;
    case "kubernetes":
      expect(claims).toMatchObject({ iss: kubernetes.issuer, sub: KUBERNETES_SUBJECT });
      expect(claims.aud).toEqual([EXCHANGE]);
      break;
    case "aws":
      expect(claims).toMatchObject({ iss: sts.issuer(ACCOUNT), sub: ROLE_ARN, aud: EXCHANGE });
      break;
    case "certificate":
      expect(header["x5t#S256"]).toBe(certificate.x5tS256);
      expect(claims).toMatchObject({
        iss: APPS.certificate,
        sub: APPS.certificate,
        aud: entra.tokenEndpoint(TENANT),
      });
      break;
  }
}

describe("@azure/storage-blob against azurite with fedcred's credential, fed by each provider", () => {
  for (const provider of Object.keys(APPS) as Provider[]) {
    it(`${provider}: creates a container, uploads, downloads and lists blobs on one token`, async () => {
      const clientId = APPS[provider];
      const tokenRequestsBefore = entra.requests.length;
      const kubernetesRequestsBefore = kubernetes.requests.length;
      const stsRequestsBefore = sts.requests.length;
      const credential = new ClientAssertionCredential(
        TENANT,
        clientId,
        assertionSource(provider),
        {
          authorityHost: entra.url,
        },
      );
      try {
        const service = new BlobServiceClient(`${azurite.url}/devstoreaccount1`, credential);
        const container = service.getContainerClient(`fedcred-${provider}`);
        await container.create();
        const contents = ["first", "second", `third from ${provider}`];
        for (const [index, content] of contents.entries()) {
          await container.getBlockBlobClient(`blob-${index}.txt`).upload(content, content.length);
        }
        const downloaded = await container.getBlockBlobClient("blob-2.txt").downloadToBuffer();
        expect(downloaded.toString()).toBe(`third from ${provider}`);
        const names: string[] = [];
        for await (const blob of container.listBlobsFlat()) names.push(blob.name);
        expect(names).toEqual(["blob-0.txt", "blob-1.txt", "blob-2.txt"]);
        const containers: string[] = [];
        for await (const item of service.listContainers({ prefix: `fedcred-${provider}` })) {
          containers.push(item.name);
        }
        expect(containers).toEqual([`fedcred-${provider}`]);

        // On the wire: one token request for every storage call, for storage, by this app,
        // granted for an assertion of this provider.
        const tokenRequests = entra.requests
          .slice(tokenRequestsBefore)
          .filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
        expect(tokenRequests).toHaveLength(1);
        const [request] = tokenRequests;
        expect(request?.status).toBe(200);
        expect(request?.form).toMatchObject({
          grant_type: "client_credentials",
          client_id: clientId,
          scope: STORAGE_SCOPE,
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        });
        expectAssertionOf(provider, request?.form.client_assertion as string);

        const tokenRequestsToKubernetes = kubernetes.requests
          .slice(kubernetesRequestsBefore)
          .filter((record) => record.method === "POST" && record.path.endsWith("/token"));
        expect(tokenRequestsToKubernetes).toHaveLength(provider === "kubernetes" ? 1 : 0);
        const webIdentityRequests = sts.requests
          .slice(stsRequestsBefore)
          .filter((record) => record.action === "GetWebIdentityToken");
        expect(webIdentityRequests).toHaveLength(provider === "aws" ? 1 : 0);
      } finally {
        await credential.close();
      }
    });
  }
});
