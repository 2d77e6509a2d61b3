// The fedcred demo: a whole workload-identity federation on loopback, end to end.
//
// A Kubernetes API server (emulated, HTTPS) issues a service-account token; a kubelet-style
// projected volume writes it to disk and rotates it; ClientAssertionCredential reads it with
// fromFile and exchanges it with the Entra ID emulator, which checks the federated identity
// credential and the token's signature against the cluster's published keys; the access token
// then opens a protected resource. Nothing leaves 127.0.0.1, and no token is printed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClientAssertionCredential } from "@fedcred/core";
import {
  createTlsAuthority,
  startEntra,
  startKubernetes,
  startProjectedVolume,
  startResource,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";

const tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const clientId = "0b1d6a4e-57f4-4c1a-9d44-3f0e5c2b7a10";
const scope = "https://storage.azure.com/.default";
const step = (text) => console.log(`\n▸ ${text}`);

const tls = await createTlsAuthority();
const kubernetes = await startKubernetes({
  tlsAuthority: tls,
  serviceAccounts: [{ namespace: "prod", name: "billing" }],
});
const entra = await startEntra({
  trustedCertificates: [tls.caCertificate],
  tenants: [
    {
      tenantId,
      apps: [
        {
          clientId,
          roles: ["Storage.Blob.Read"],
          federatedCredentials: [
            {
              issuer: kubernetes.issuer,
              subject: "system:serviceaccount:prod:billing",
              audiences: ["api://AzureADTokenExchange"],
            },
          ],
        },
      ],
    },
  ],
});
const resource = await startResource({ entra, tenantId, audience: "https://storage.azure.com" });
const directory = await mkdtemp(join(tmpdir(), "fedcred-demo-"));
const volume = await startProjectedVolume({
  directory,
  fileName: "azure-identity-token",
  mint: {
    kubernetes,
    namespace: "prod",
    name: "billing",
    audiences: ["api://AzureADTokenExchange"],
    expirationSeconds: 3600,
  },
});

try {
  step("The lab");
  console.log(`  Kubernetes API and issuer  ${kubernetes.url}`);
  console.log(`  Entra ID                   ${entra.url}`);
  console.log(`  protected resource         ${resource.url}`);
  console.log(
    `  AZURE_FEDERATED_TOKEN_FILE ${volume.path} (kubelet layout, rotated by symlink swap)`,
  );

  step("ClientAssertionCredential(tenantId, clientId, fromFile()) asks Entra for a storage token");
  const credential = new ClientAssertionCredential(
    tenantId,
    clientId,
    fromFile({ path: volume.path }),
    {
      authorityHost: entra.url,
    },
  );
  const started = performance.now();
  const token = await credential.getToken(scope);
  console.log(
    `  got a Bearer token in ${(performance.now() - started).toFixed(0)} ms, valid until ${new Date(token.expiresOnTimestamp).toISOString()}`,
  );

  step(
    "The protected resource checks the token (signature, aud, iss, nbf, exp) and says who called",
  );
  const response = await fetch(resource.url, {
    headers: { authorization: `Bearer ${token.token}` },
  });
  console.log(`  ${response.status} ${JSON.stringify(await response.json())}`);

  step("1000 concurrent getToken calls: served from the cache");
  const before = entra.tokenRequestCount;
  await Promise.all(Array.from({ length: 1000 }, () => credential.getToken(scope)));
  console.log(`  token requests sent to Entra: ${entra.tokenRequestCount - before}`);

  step("The kubelet rotates the token file; a new scope gets a token with the rotated assertion");
  await volume.rotate();
  await credential.getToken("https://management.azure.com/.default");
  console.log(
    `  rotations: ${volume.rotations}, token requests so far: ${entra.tokenRequestCount}`,
  );

  step("A misconfigured federated credential: the error says what to fix");
  entra.addApp(tenantId, {
    clientId: "7d3f9a2c-1111-4e0b-8f6a-5a9c2e4b6d80",
    federatedCredentials: [
      {
        issuer: kubernetes.issuer,
        subject: "system:serviceaccount:prod:Billing",
        audiences: ["api://AzureADTokenExchange"],
      },
    ],
  });
  const misconfigured = new ClientAssertionCredential(
    tenantId,
    "7d3f9a2c-1111-4e0b-8f6a-5a9c2e4b6d80",
    fromFile({ path: volume.path }),
    { authorityHost: entra.url },
  );
  try {
    await misconfigured.getToken(scope);
  } catch (error) {
    console.log(`  ${error.name} (${error.code}, HTTP ${error.statusCode}):\n  ${error.message}`);
  }

  await credential.close();
  await misconfigured.close();
  console.log("\n✔ demo complete");
} finally {
  await volume.close();
  await Promise.all([resource.close(), entra.close(), kubernetes.close()]);
  await rm(directory, { recursive: true, force: true });
}
