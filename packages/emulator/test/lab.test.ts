import { readFile } from "node:fs/promises";
import { GetWebIdentityTokenCommand, STSClient } from "@aws-sdk/client-sts";
import { ClientAssertionCredential, ClientCertificateCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../src/lab.js";
import { testTls } from "./support/tls.js";

let lab: Lab;

beforeAll(async () => {
  const tls = testTls();
  lab = await startLab({
    tlsAuthority: { caCertificate: tls.ca, serverCertificate: tls.cert, serverKey: tls.key },
  });
}, 30_000);

afterAll(async () => {
  await lab?.close();
});

function exchange(getAssertion: () => Promise<string>): Promise<string> {
  const credential = new ClientAssertionCredential(lab.tenantId, lab.clientId, getAssertion, {
    authorityHost: lab.env.AZURE_AUTHORITY_HOST,
    disableInstanceDiscovery: true,
  });
  return credential.getToken(lab.env.FEDCRED_RESOURCE_SCOPE).then((token) => token.token);
}

async function whoAmI(token: string): Promise<Record<string, unknown>> {
  const response = await fetch(lab.env.FEDCRED_RESOURCE_URL, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe("startLab", () => {
  it("federates the projected Kubernetes token file with Entra, and the token opens the resource", async () => {
    const token = await exchange(() => readFile(lab.env.AZURE_FEDERATED_TOKEN_FILE, "utf8"));
    expect(await whoAmI(token)).toMatchObject({
      appid: lab.clientId,
      tid: lab.tenantId,
      roles: ["Lab.Read"],
    });
    const exchanged = lab.entra.requests.find(
      (request) => request.status === 200 && request.form.client_assertion,
    );
    expect(exchanged?.form.client_assertion).toBe(lab.tokenVolume.token);
  });

  it("federates an AWS STS web identity token with Entra", async () => {
    const sts = new STSClient({
      region: lab.env.AWS_REGION,
      endpoint: lab.env.AWS_ENDPOINT_URL_STS,
      credentials: {
        accessKeyId: lab.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: lab.env.AWS_SECRET_ACCESS_KEY,
        sessionToken: lab.env.AWS_SESSION_TOKEN,
      },
    });
    const token = await exchange(async () => {
      const answer = await sts.send(
        new GetWebIdentityTokenCommand({
          Audience: ["api://AzureADTokenExchange"],
          SigningAlgorithm: "RS256",
        }),
      );
      return answer.WebIdentityToken as string;
    });
    expect((await whoAmI(token)).appid).toBe(lab.clientId);
  });

  it("federates the OIDC issuer and accepts the app certificate", async () => {
    const issued = await exchange(() =>
      lab.issuer.mint({ subject: lab.subjects.issuer, audience: "api://AzureADTokenExchange" }),
    );
    expect((await whoAmI(issued)).appid).toBe(lab.clientId);
    const credential = new ClientCertificateCredential(
      lab.tenantId,
      lab.clientId,
      { certificate: `${lab.certificate.certificatePem}${lab.certificate.privateKeyPem}` },
      { authorityHost: lab.env.AZURE_AUTHORITY_HOST, disableInstanceDiscovery: true },
    );
    const { token } = await credential.getToken(lab.env.FEDCRED_RESOURCE_SCOPE);
    expect((await whoAmI(token)).appid).toBe(lab.clientId);
  });

  it("federates a GitHub Actions job, an Azure Pipelines service connection, a GCP service account and a managed identity", async () => {
    const fetchAssertion = async (
      url: string,
      init: RequestInit,
      read: (response: Response) => Promise<string>,
    ): Promise<string> => {
      const response = await fetch(url, init);
      expect(response.status, url).toBe(200);
      return read(response);
    };
    const sources: [string, () => Promise<string>][] = [
      [
        lab.subjects.githubActions,
        () =>
          fetchAssertion(
            `${lab.githubActions.requestUrl}&audience=api://AzureADTokenExchange`,
            { headers: { authorization: `Bearer ${lab.githubActions.requestToken}` } },
            async (response) => ((await response.json()) as { value: string }).value,
          ),
      ],
      [
        lab.subjects.azurePipelines,
        () =>
          fetchAssertion(
            `${lab.azurePipelines.oidcRequestUri}?api-version=7.1&serviceConnectionId=${lab.serviceConnection.id}`,
            {
              method: "POST",
              headers: {
                authorization: `Bearer ${lab.azurePipelines.systemAccessToken}`,
                "content-type": "application/json",
                "x-tfs-fedauthredirect": "Suppress",
              },
            },
            async (response) => ((await response.json()) as { oidcToken: string }).oidcToken,
          ),
      ],
      [
        lab.subjects.gcp,
        () =>
          fetchAssertion(
            `${lab.gcpMetadata.url}/computeMetadata/v1/instance/service-accounts/default/identity?audience=api://AzureADTokenExchange`,
            { headers: { "metadata-flavor": "Google" } },
            (response) => response.text(),
          ),
      ],
      [
        lab.subjects.managedIdentity,
        () =>
          fetchAssertion(
            `${lab.imds.imdsEndpoint}?api-version=2018-02-01&resource=api://AzureADTokenExchange&client_id=${lab.managedIdentity.clientId}`,
            { headers: { metadata: "true" } },
            async (response) => ((await response.json()) as { access_token: string }).access_token,
          ),
      ],
    ];
    expect(lab.subjects.githubActions).toBe("repo:fedcred/lab:environment:lab");
    expect(lab.subjects.azurePipelines).toBe("sc://fedcred/lab/lab-deploy");
    expect(lab.subjects.managedIdentity).toBe(lab.managedIdentity.objectId);
    for (const [subject, source] of sources) {
      const token = await exchange(source);
      expect(await whoAmI(token), subject).toMatchObject({ appid: lab.clientId });
      const sent = lab.entra.requests
        .filter((request) => request.status === 200 && request.form.client_assertion)
        .at(-1)?.form.client_assertion;
      const claims = JSON.parse(
        Buffer.from(sent?.split(".")[1] ?? "", "base64url").toString("utf8"),
      ) as { sub?: string };
      expect(claims.sub).toBe(subject);
    }
    // Each server minted what was sent (@azure/identity may ask its assertion callback twice).
    expect(lab.githubActions.tokenCount).toBeGreaterThan(0);
    expect(lab.azurePipelines.tokenCount).toBeGreaterThan(0);
    expect(lab.gcpMetadata.identityTokenCount).toBeGreaterThan(0);
    expect(lab.imds.tokenCount).toBeGreaterThan(0);
  });

  it("writes the CA file and kubeconfig it names", async () => {
    expect(await readFile(lab.env.NODE_EXTRA_CA_CERTS, "utf8")).toBe(
      lab.tlsAuthority.caCertificate,
    );
    const kubeconfig = JSON.parse(await readFile(lab.env.KUBECONFIG, "utf8")) as {
      clusters: { cluster: { server: string } }[];
    };
    expect(kubeconfig.clusters[0]?.cluster.server).toBe(lab.kubernetes.url);
  });
});

describe("startLab's close()", () => {
  it("closes the GitHub Actions, Azure Pipelines, GCP metadata and IMDS servers with the lab", async () => {
    const tls = testTls();
    const own = await startLab({
      tlsAuthority: { caCertificate: tls.ca, serverCertificate: tls.cert, serverKey: tls.key },
    });
    const urls = [
      own.githubActions.url,
      own.azurePipelines.url,
      own.gcpMetadata.url,
      own.imds.url,
      own.imds.authorityHost,
    ];
    for (const url of urls) expect((await fetch(url)).status, url).toBeGreaterThan(0);
    await own.close();
    for (const url of urls) await expect(fetch(url), url).rejects.toThrow();
  }, 30_000);
});
