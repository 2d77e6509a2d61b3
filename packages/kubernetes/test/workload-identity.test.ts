import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AzureLogger, setLogLevel } from "@azure/logger";
import {
  type AuthenticationError,
  type ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import {
  createTlsAuthority,
  type EntraEmulator,
  type IdentityBindingProxy,
  type ProjectedVolume,
  startEntra,
  startIdentityBindingProxy,
  startProjectedVolume,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AZURE_KUBERNETES_CA_DATA,
  AZURE_KUBERNETES_CA_FILE,
  AZURE_KUBERNETES_SNI_NAME,
  AZURE_KUBERNETES_TOKEN_PROXY,
  workloadIdentityCredential,
} from "../src/index.js";
import {
  APP,
  BINDING_AUDIENCE,
  claimsOf,
  EXCHANGE,
  type Federation,
  SCOPE,
  startFederation,
  TENANT,
} from "./cluster.js";

const VARIABLES = [
  "AZURE_TENANT_ID",
  "AZURE_CLIENT_ID",
  "AZURE_FEDERATED_TOKEN_FILE",
  "AZURE_AUTHORITY_HOST",
  AZURE_KUBERNETES_TOKEN_PROXY,
  AZURE_KUBERNETES_SNI_NAME,
  AZURE_KUBERNETES_CA_FILE,
  AZURE_KUBERNETES_CA_DATA,
];
const saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));

/** Entra behind the identity-binding proxy: its FIC takes the binding's audience. */
let binding: Federation;
/** Entra at the authority host: a pod's token for the binding audience is refused there (700212). */
let direct: EntraEmulator;
let proxy: IdentityBindingProxy;
let directory: string;
let bindingVolume: ProjectedVolume;
let exchangeVolume: ProjectedVolume;
const credentials: ClientAssertionCredential[] = [];

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-wi-"));
  binding = await startFederation({ ficAudiences: [BINDING_AUDIENCE, EXCHANGE] });
  direct = await startEntra({
    trustedCertificates: [binding.tlsAuthority.caCertificate],
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            federatedCredentials: [
              {
                issuer: binding.kubernetes.issuer,
                subject: "system:serviceaccount:prod:billing",
                audiences: [EXCHANGE],
              },
            ],
          },
        ],
      },
    ],
  });
  proxy = await startIdentityBindingProxy({ target: binding.entra.url });
  const mint = (audience: string) => ({
    kubernetes: binding.kubernetes,
    namespace: "prod",
    name: "billing",
    audiences: [audience],
  });
  bindingVolume = await startProjectedVolume({
    directory: join(directory, "binding"),
    mint: mint(BINDING_AUDIENCE),
  });
  exchangeVolume = await startProjectedVolume({
    directory: join(directory, "exchange"),
    mint: mint(EXCHANGE),
  });
});

afterAll(async () => {
  await bindingVolume?.close();
  await exchangeVolume?.close();
  await Promise.all([proxy?.close(), direct?.close(), binding?.close()]);
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  for (const name of VARIABLES) delete process.env[name];
});

afterEach(async () => {
  for (const credential of credentials.splice(0)) await credential.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  direct.reset();
  binding.entra.reset();
});

function track(credential: ClientAssertionCredential): ClientAssertionCredential {
  credentials.push(credential);
  return credential;
}

/** The webhook's four variables, for a pod whose token file is `volume`'s. */
function webhookEnvironment(volume: ProjectedVolume, authorityHost = direct.url): void {
  process.env.AZURE_TENANT_ID = TENANT;
  process.env.AZURE_CLIENT_ID = APP;
  process.env.AZURE_FEDERATED_TOKEN_FILE = volume.path;
  process.env.AZURE_AUTHORITY_HOST = `${authorityHost}/`;
}

async function caFile(content: string): Promise<string> {
  const path = join(directory, `ca-${Math.random().toString(36).slice(2)}.pem`);
  await writeFile(path, content);
  return path;
}

/** The identity-binding variables, with the proxy's CA in a file. */
async function bindingEnvironment(): Promise<string> {
  webhookEnvironment(bindingVolume);
  const path = await caFile(proxy.caCertificate);
  process.env[AZURE_KUBERNETES_TOKEN_PROXY] = proxy.url;
  process.env[AZURE_KUBERNETES_SNI_NAME] = proxy.serverName;
  process.env[AZURE_KUBERNETES_CA_FILE] = path;
  return path;
}

describe("workloadIdentityCredential from the webhook's environment", () => {
  it("gets a token with the four variables, which the resource accepts", async () => {
    webhookEnvironment(exchangeVolume, binding.entra.url);
    const credential = track(workloadIdentityCredential());
    const token = await credential.getToken(SCOPE);
    const response = await fetch(binding.resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    const [request] = binding.tokenRequests();
    expect(request?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(request?.form.client_assertion).toBe(exchangeVolume.token);
  });

  it("lets explicit options beat the environment", async () => {
    process.env.AZURE_TENANT_ID = "00000000-0000-4000-8000-000000000000";
    process.env.AZURE_CLIENT_ID = "not-the-app";
    process.env.AZURE_FEDERATED_TOKEN_FILE = join(directory, "missing-token");
    process.env.AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com/";
    const credential = track(
      workloadIdentityCredential({
        tenantId: TENANT,
        clientId: APP,
        tokenFilePath: exchangeVolume.path,
        authorityHost: binding.entra.url,
      }),
    );
    await credential.getToken(SCOPE);
    const [request] = binding.tokenRequests();
    expect(request?.form.client_id).toBe(APP);
    expect(request?.tenant).toBe(TENANT);
  });

  it("lists everything missing in one error", () => {
    const all = () => workloadIdentityCredential();
    expect(all).toThrow(CredentialUnavailableError);
    expect(all).toThrow(
      /the tenant id \(options\.tenantId or AZURE_TENANT_ID\), the client id \(options\.clientId or AZURE_CLIENT_ID\), the token file \(options\.tokenFilePath or AZURE_FEDERATED_TOKEN_FILE\)/,
    );
    process.env.AZURE_TENANT_ID = TENANT;
    process.env.AZURE_FEDERATED_TOKEN_FILE = exchangeVolume.path;
    try {
      workloadIdentityCredential();
      expect.unreachable();
    } catch (error) {
      expect((error as CredentialUnavailableError).code).toBe("missing_configuration");
      expect((error as Error).message).toContain("missing the client id");
      expect((error as Error).message).not.toContain("tenant id");
    }
  });

  it("uses the rotated token file: no call fails and the newest token is sent after rotation", async () => {
    webhookEnvironment(exchangeVolume, binding.entra.url);
    const credential = track(workloadIdentityCredential());
    let stop = false;
    let calls = 0;
    const failures: unknown[] = [];
    const callers = Array.from({ length: 4 }, async (_, caller) => {
      while (!stop) {
        calls += 1;
        // Every call asks for a new scope, so every call reads the token file.
        await credential
          .getToken(`https://resource-${caller}-${calls}.test/.default`)
          .catch((error: unknown) => failures.push(error));
      }
    });
    for (let rotation = 0; rotation < 5; rotation += 1) {
      await exchangeVolume.rotate();
      // Until a caller has read the file after this rotation (slower on a loaded machine): with
      // at most 4 requests in flight during the swap, the fifth request after it is new.
      const sentBefore = binding.tokenRequests().length;
      await vi.waitFor(
        () => expect(binding.tokenRequests().length).toBeGreaterThan(sentBefore + 4),
        {
          timeout: 10_000,
          interval: 5,
        },
      );
    }
    stop = true;
    await Promise.all(callers);
    expect(failures).toEqual([]);
    expect(exchangeVolume.rotations).toBeGreaterThanOrEqual(5);
    const sent = binding.tokenRequests().map((request) => request.form.client_assertion);
    expect(new Set(sent).size).toBeGreaterThan(1);
    await credential.getToken("https://after-rotation.test/.default");
    expect(binding.tokenRequests().at(-1)?.form.client_assertion).toBe(exchangeVolume.token);
  });
});

describe("AKS identity bindings: enableAzureProxy", () => {
  it("sends the unchanged token request through the token proxy, with its server name and CA", async () => {
    await bindingEnvironment();
    const credential = track(workloadIdentityCredential({ enableAzureProxy: true }));
    const token = await credential.getToken(SCOPE);
    const response = await fetch(binding.resource.url, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(response.status).toBe(200);
    expect(direct.tokenRequestCount).toBe(0);
    const forwarded = proxy.requests.at(-1);
    expect(forwarded).toMatchObject({
      method: "POST",
      path: `/identity-binding/${TENANT}/oauth2/v2.0/token`,
      tenant: TENANT,
      servername: proxy.serverName,
      status: 200,
    });
    const [request] = binding.tokenRequests();
    expect(request?.form.client_assertion).toBe(bindingVolume.token);
    expect(claimsOf(request?.form.client_assertion ?? "").aud).toEqual([BINDING_AUDIENCE]);
  });

  it("accepts the beta name enableAzureKubernetesTokenProxy and inline CA data", async () => {
    webhookEnvironment(bindingVolume);
    process.env[AZURE_KUBERNETES_TOKEN_PROXY] = proxy.url;
    process.env[AZURE_KUBERNETES_SNI_NAME] = proxy.serverName;
    process.env[AZURE_KUBERNETES_CA_DATA] = proxy.caCertificate;
    const before = proxy.forwardedCount;
    const credential = track(workloadIdentityCredential({ enableAzureKubernetesTokenProxy: true }));
    await credential.getToken(SCOPE);
    expect(proxy.forwardedCount).toBe(before + 1);
    expect(direct.tokenRequestCount).toBe(0);
  });

  it("re-reads the CA file when the platform rotates it, keeping the old CA while the file is empty", async () => {
    const path = await bindingEnvironment();
    const credential = track(workloadIdentityCredential({ enableAzureProxy: true }));
    let scope = 0;
    const next = () => credential.getToken(`https://rotation-${++scope}.test/.default`);
    await next();
    // Mid-rotation the file is empty, then half written: the previous CA stays in use.
    await writeFile(path, "");
    await next();
    await writeFile(path, proxy.caCertificate.slice(0, 100));
    await next();
    // The proxy switches certificates (dropping idle connections) and the file gets the new
    // CA: the next request handshakes anew and trusts only what the file now says.
    const secondCa = await proxy.rotateCertificate();
    await writeFile(path, secondCa);
    await next();
    // During calls: the platform publishes old and new CA together, switches the proxy, then
    // drops the old CA. No call fails.
    let stop = false;
    const failures: unknown[] = [];
    const caller = (async () => {
      while (!stop) await next().catch((error: unknown) => failures.push(error));
    })();
    const third = await createTlsAuthority("rotated proxy CA", [proxy.serverName], {
      loopback: false,
    });
    await writeFile(path, `${secondCa}\n${third.caCertificate}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await proxy.rotateCertificate(third);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writeFile(path, third.caCertificate);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await caller;
    await next();
    expect(failures.map((error) => (error as Error).message)).toEqual([]);
    expect(binding.tokenRequests().every((request) => request.status === 200)).toBe(true);
    expect(proxy.refusedHandshakes).toEqual([]);
  });

  it.each([
    [{ [AZURE_KUBERNETES_TOKEN_PROXY]: "http://127.0.0.1:8443/p" }, "must use https"],
    [
      { [AZURE_KUBERNETES_TOKEN_PROXY]: "https://user:pw@127.0.0.1:8443/p" },
      "must not hold user info",
    ],
    [{ [AZURE_KUBERNETES_TOKEN_PROXY]: "https://127.0.0.1:8443/p?x=1" }, "query or a fragment"],
    [{ [AZURE_KUBERNETES_TOKEN_PROXY]: "https://127.0.0.1:8443/p#f" }, "query or a fragment"],
    [
      {
        [AZURE_KUBERNETES_TOKEN_PROXY]: "https://127.0.0.1:8443/p",
        [AZURE_KUBERNETES_CA_FILE]: "/ca.pem",
        [AZURE_KUBERNETES_CA_DATA]: "-----BEGIN CERTIFICATE-----",
      },
      "are both set",
    ],
    [
      {
        [AZURE_KUBERNETES_TOKEN_PROXY]: "https://127.0.0.1:8443/p",
        [AZURE_KUBERNETES_CA_DATA]: "not a certificate",
      },
      `${AZURE_KUBERNETES_CA_DATA} is not a PEM certificate`,
    ],
    [{ [AZURE_KUBERNETES_TOKEN_PROXY]: "https://user:hunter2@[::1" }, "is not a valid URL"],
    [
      { [AZURE_KUBERNETES_SNI_NAME]: "proxy.internal" },
      `set without ${AZURE_KUBERNETES_TOKEN_PROXY}`,
    ],
    [{ [AZURE_KUBERNETES_CA_FILE]: "/ca.pem" }, `set without ${AZURE_KUBERNETES_TOKEN_PROXY}`],
  ])("refuses %j at construction", (variables, message) => {
    webhookEnvironment(bindingVolume);
    Object.assign(process.env, variables);
    const create = () => workloadIdentityCredential({ enableAzureProxy: true });
    expect(create).toThrow(CredentialUnavailableError);
    expect(create).toThrow(message);
    try {
      create();
    } catch (error) {
      expect((error as Error).message).not.toContain(":pw@");
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("ignores the variables with the option off, logging that once, and Entra's 700212 then hints at the option", async () => {
    await bindingEnvironment();
    const lines: string[] = [];
    const originalLog = AzureLogger.log;
    setLogLevel("warning");
    AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
    try {
      const credential = track(workloadIdentityCredential());
      track(workloadIdentityCredential());
      const error = (await credential
        .getToken(SCOPE)
        .catch((caught: unknown) => caught)) as AuthenticationError;
      expect(error.errorResponse?.errorCodes).toContain(700212);
      expect(error.message).toContain("enableAzureProxy");
      expect(direct.tokenRequestCount).toBe(1);
      const warnings = lines.filter((line) => line.includes("enableAzureProxy is off"));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(AZURE_KUBERNETES_TOKEN_PROXY);
    } finally {
      AzureLogger.log = originalLog;
      setLogLevel(undefined as never);
    }
  });
});
