import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTransport, decodeJwtPayload } from "@fedcred/core";
import { createSelfSignedCertificate, type Lab, startLab } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fedcred, labEnvironment, type Run } from "./fedcred.js";

const EXCHANGE = "api://AzureADTokenExchange";
let lab: Lab;
let scope: string;

beforeAll(async () => {
  lab = await startLab();
  scope = lab.env.FEDCRED_RESOURCE_SCOPE;
});
afterAll(() => lab?.close());

interface TokenJson {
  accessToken: string;
  expiresOn: string;
  expires_on: number;
  tenant: string;
  tokenType: string;
}

/** The az-style JSON of a successful run, checked field by field. */
function tokenJson(run: Run): TokenJson {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const json = JSON.parse(run.stdout) as TokenJson;
  expect(Object.keys(json)).toEqual([
    "accessToken",
    "expiresOn",
    "expires_on",
    "tenant",
    "tokenType",
  ]);
  expect(json.tokenType).toBe("Bearer");
  expect(json.tenant).toBe(lab.tenantId);
  expect(json.expiresOn).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  expect(Number.isInteger(json.expires_on)).toBe(true);
  expect(json.expires_on - Date.now() / 1000).toBeGreaterThan(3000);
  // expiresOn is expires_on in local time, as az prints it.
  const local = new Date(json.expires_on * 1000);
  expect(json.expiresOn.slice(0, 16)).toBe(
    `${local.getFullYear()}-${String(local.getMonth() + 1).padStart(2, "0")}-${String(local.getDate()).padStart(2, "0")} ${String(local.getHours()).padStart(2, "0")}:${String(local.getMinutes()).padStart(2, "0")}`,
  );
  return json;
}

/** What the protected resource answers to the token. */
async function resourceStatus(accessToken: string): Promise<number> {
  const transport = createTransport({ tlsOptions: { ca: lab.tlsAuthority.caCertificate } });
  try {
    const response = await transport.send({
      url: lab.resource.url,
      method: "GET",
      headers: { authorization: `Bearer ${accessToken}` },
      timeoutInMs: 10_000,
      maxBodyBytes: 65_536,
    });
    return response.status;
  } finally {
    transport.close();
  }
}

/** The assertion the last token request sent to Entra. */
function lastAssertion(): string {
  return lab.entra.requests.at(-1)?.form.client_assertion ?? "";
}

function failure(run: Run, code = 1): string {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe("");
  return run.stderr;
}

describe("fedcred token --source file", () => {
  it("reads AZURE_FEDERATED_TOKEN_FILE, prints az-style JSON, and the resource accepts the token", async () => {
    const json = tokenJson(
      await fedcred(["token", "--source", "file", "--scope", scope], { env: labEnvironment(lab) }),
    );
    expect(decodeJwtPayload(json.accessToken).aud).toBe("https://storage.azure.com");
    expect(await resourceStatus(json.accessToken)).toBe(200);
    expect(decodeJwtPayload(lastAssertion()).sub).toBe(lab.subjects.kubernetes);
  });

  it("reads file:PATH, here an OIDC issuer's token", async () => {
    const path = join(lab.directory, "issuer-token");
    await writeFile(
      path,
      await lab.issuer.mint({ subject: lab.subjects.issuer, audience: EXCHANGE }),
    );
    const json = tokenJson(
      await fedcred(["token", "--source", `file:${path}`, "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(await resourceStatus(json.accessToken)).toBe(200);
    expect(decodeJwtPayload(lastAssertion()).iss).toBe(lab.issuer.url);
  });

  it("a FIC mismatch exits 1 with core's hint, Entra's code, a pointer to inspect, and no token", async () => {
    const path = join(lab.directory, "wrong-subject");
    const assertion = await lab.issuer.mint({
      subject: "fedcred:lab:Workload",
      audience: EXCHANGE,
    });
    await writeFile(path, assertion);
    const run = await fedcred(["token", "--source", `file:${path}`, "--scope", scope], {
      env: labEnvironment(lab),
    });
    const stderr = failure(run);
    expect(stderr).toContain("AuthenticationError (token_request_rejected, HTTP 401)");
    expect(stderr).toContain("AADSTS7002138");
    expect(stderr).toContain("differs from the assertion's only in letter case");
    expect(stderr).toContain('sub "fedcred:lab:Workload"');
    expect(stderr).toContain("fedcred inspect TOKEN_FILE --issuer ISSUER --subject SUBJECT");
    expect(stderr).not.toContain(assertion.split(".")[1]);
  });

  it("--json errors are the error's JSON on stderr", async () => {
    const path = join(lab.directory, "wrong-issuer");
    await writeFile(
      path,
      await lab.issuer.mint({ subject: lab.subjects.issuer, audience: "api://Other" }),
    );
    const run = await fedcred(["token", "--source", `file:${path}`, "--scope", scope, "--json"], {
      env: labEnvironment(lab),
    });
    const { error } = JSON.parse(failure(run));
    expect(error).toMatchObject({
      name: "AuthenticationError",
      code: "token_request_rejected",
      statusCode: 401,
      errorResponse: { errorCodes: [700212] },
    });
    expect(error.tip).toContain("fedcred inspect");
  });

  it("without AZURE_FEDERATED_TOKEN_FILE, exits 1 naming the variable", async () => {
    const env = labEnvironment(lab);
    delete env.AZURE_FEDERATED_TOKEN_FILE;
    const stderr = failure(await fedcred(["token", "--source", "file", "--scope", scope], { env }));
    expect(stderr).toContain("CredentialUnavailableError (missing_configuration)");
    expect(stderr).toContain("AZURE_FEDERATED_TOKEN_FILE");
  });

  it("without AZURE_TENANT_ID or AZURE_CLIENT_ID, exits 2 naming the option and the variable", async () => {
    const env = labEnvironment(lab);
    delete env.AZURE_TENANT_ID;
    const tenant = failure(
      await fedcred(["token", "--source", "file", "--scope", scope], { env }),
      2,
    );
    expect(tenant).toContain("No tenant id: pass --tenant-id or set AZURE_TENANT_ID.");
    delete env.AZURE_CLIENT_ID;
    env.AZURE_TENANT_ID = lab.tenantId;
    const client = failure(
      await fedcred(["token", "--source", "file", "--scope", scope], { env }),
      2,
    );
    expect(client).toContain("No client id: pass --client-id or set AZURE_CLIENT_ID.");
  });

  it("--tenant-id, --client-id and --authority-host stand in for the environment", async () => {
    const env = labEnvironment(lab);
    delete env.AZURE_TENANT_ID;
    delete env.AZURE_CLIENT_ID;
    delete env.AZURE_AUTHORITY_HOST;
    const args = ["token", "--source", "file", "--scope", scope, "--tenant-id", lab.tenantId];
    args.push("--client-id", lab.clientId, "--authority-host", lab.entra.url);
    tokenJson(await fedcred(args, { env }));
  });

  it("--raw prints the bare token and a newline, nothing else", async () => {
    const run = await fedcred(["token", "--source", "file", "--scope", scope, "--raw"], {
      env: labEnvironment(lab),
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(await resourceStatus(run.stdout.trim())).toBe(200);
  });

  it("--json prints the same JSON as the default", async () => {
    tokenJson(
      await fedcred(["token", "--source", "file", "--scope", scope, "--json"], {
        env: labEnvironment(lab),
      }),
    );
  });

  it("a scope without /.default gets Entra's AADSTS1002012 and core's hint", async () => {
    const run = await fedcred(
      ["token", "--source", "file", "--scope", "https://storage.azure.com"],
      { env: labEnvironment(lab) },
    );
    const stderr = failure(run);
    expect(stderr).toContain("AADSTS1002012");
    expect(stderr).toContain('must end in "/.default"');
  });
});

describe("fedcred token --source projected", () => {
  it("reads the projected token, and after the kubelet's rotation sends the new one", async () => {
    tokenJson(
      await fedcred(["token", "--source", "projected", "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(lastAssertion()).toBe(lab.tokenVolume.token);
    const before = lab.tokenVolume.token;
    await lab.tokenVolume.rotate();
    expect(lab.tokenVolume.token).not.toBe(before);
    const path = lab.env.AZURE_FEDERATED_TOKEN_FILE;
    const json = tokenJson(
      await fedcred(["token", "--source", `projected:${path}`, "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(lastAssertion()).toBe(lab.tokenVolume.token);
    expect(await resourceStatus(json.accessToken)).toBe(200);
  });

  it("a missing file exits 1 naming the path", async () => {
    const path = join(lab.directory, "not-mounted", "token");
    const stderr = failure(
      await fedcred(["token", "--source", `projected:${path}`, "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(stderr).toContain("CredentialUnavailableError (assertion_unavailable)");
    expect(stderr).toContain(path);
  });
});

describe("fedcred token --source kubernetes", () => {
  it("mints a token through the TokenRequest API of KUBECONFIG's cluster", async () => {
    const before = lab.kubernetes.tokenRequestCount;
    const json = tokenJson(
      await fedcred(["token", "--source", "kubernetes:fedcred/workload", "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(lab.kubernetes.tokenRequestCount).toBe(before + 1);
    expect(decodeJwtPayload(lastAssertion()).sub).toBe("system:serviceaccount:fedcred:workload");
    expect(await resourceStatus(json.accessToken)).toBe(200);
  });

  it("kubernetes:SERVICEACCOUNT takes the kubeconfig context's namespace", async () => {
    tokenJson(
      await fedcred(["token", "--source", "kubernetes:workload", "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(decodeJwtPayload(lastAssertion()).sub).toBe("system:serviceaccount:fedcred:workload");
  });

  it("a service account the caller may not mint for exits 1 with the RBAC rule to grant", async () => {
    const stderr = failure(
      await fedcred(["token", "--source", "kubernetes:fedcred/billing", "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(stderr).toContain("AuthenticationError (assertion_failed)");
    expect(stderr).toContain("(403 Forbidden)");
    expect(stderr).toContain("kubectl create role fedcred-token-creator -n fedcred");
  });

  it("without a kubeconfig, exits 1 saying where it looked", async () => {
    const env = labEnvironment(lab, { KUBECONFIG: join(lab.directory, "no-kubeconfig") });
    const stderr = failure(
      await fedcred(["token", "--source", "kubernetes:fedcred/workload", "--scope", scope], {
        env,
      }),
    );
    expect(stderr).toMatch(/CredentialUnavailableError \((missing|invalid)_configuration\)/);
  });

  it("a malformed source is a usage error", async () => {
    const run = await fedcred(["token", "--source", "kubernetes:", "--scope", scope], {
      env: labEnvironment(lab),
    });
    expect(failure(run, 2)).toContain("kubernetes:NAMESPACE/SERVICEACCOUNT");
  });
});

describe("fedcred token --source aws", () => {
  it("gets the role's token from STS (AWS_* and AWS_ENDPOINT_URL_STS) and prints only the JSON", async () => {
    const json = tokenJson(
      await fedcred(["token", "--source", "aws", "--scope", scope], { env: labEnvironment(lab) }),
    );
    expect(decodeJwtPayload(lastAssertion()).sub).toBe(lab.subjects.aws);
    expect(await resourceStatus(json.accessToken)).toBe(200);
  });

  it("a wrong secret key exits 1 with STS's SignatureDoesNotMatch explained, and no key", async () => {
    const env = labEnvironment(lab, { AWS_SECRET_ACCESS_KEY: "not-the-secret-key" });
    const stderr = failure(await fedcred(["token", "--source", "aws", "--scope", scope], { env }));
    expect(stderr).toContain("SignatureDoesNotMatch");
    expect(stderr).toContain("AWS_SECRET_ACCESS_KEY");
    expect(stderr).not.toContain(lab.env.AWS_SESSION_TOKEN);
    expect(stderr).not.toContain("not-the-secret-key");
  });
});

describe("fedcred token --source certificate", () => {
  it("signs the assertion with the certificate in certificate:PATH", async () => {
    const path = join(lab.directory, "app.pem");
    await writeFile(path, lab.certificate.certificatePem + lab.certificate.privateKeyPem, {
      mode: 0o600,
    });
    const json = tokenJson(
      await fedcred(["token", "--source", `certificate:${path}`, "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(decodeJwtPayload(lastAssertion()).iss).toBe(lab.clientId);
    expect(await resourceStatus(json.accessToken)).toBe(200);
  });

  it("a certificate the app does not know exits 1 with AADSTS700027 and the thumbprints sent", async () => {
    const stranger = await createSelfSignedCertificate({ commonName: "not registered" });
    const path = join(lab.directory, "stranger.pem");
    await writeFile(path, stranger.certificatePem + stranger.privateKeyPem, { mode: 0o600 });
    const stderr = failure(
      await fedcred(["token", "--source", `certificate:${path}`, "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(stderr).toContain("AADSTS700027");
    expect(stderr).toContain(stranger.x5tS256);
    expect(stderr).not.toContain("PRIVATE KEY");
  });

  it("without a path or AZURE_CLIENT_CERTIFICATE_PATH, exits 1 naming the variable", async () => {
    const stderr = failure(
      await fedcred(["token", "--source", "certificate", "--scope", scope], {
        env: labEnvironment(lab),
      }),
    );
    expect(stderr).toContain("AZURE_CLIENT_CERTIFICATE_PATH");
  });
});
