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
