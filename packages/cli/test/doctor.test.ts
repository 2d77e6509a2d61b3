import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import {
  type IdentityBindingProxy,
  type Lab,
  startIdentityBindingProxy,
  startLab,
} from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Check } from "../src/doctor/checks.js";
import { bareEnvironment, fedcred, labEnvironment, type Run } from "./fedcred.js";

const BINDING_AUDIENCE = "api://AKSIdentityBinding";
let lab: Lab;
let scope: string;

beforeAll(async () => {
  lab = await startLab();
  scope = lab.env.FEDCRED_RESOURCE_SCOPE;
});
afterAll(() => lab?.close());

async function doctor(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ run: Run; checks: Check[] }> {
  const run = await fedcred(["doctor", "--json", ...args], { env });
  expect(run.stderr).toBe("");
  return { run, checks: JSON.parse(run.stdout) as Check[] };
}

function find(checks: Check[], name: string): Check {
  const check = checks.find((entry) => entry.check === name);
  if (check === undefined)
    throw new Error(`no check "${name}" in ${checks.map((entry) => entry.check).join(", ")}`);
  return check;
}

function failed(checks: Check[]): string[] {
  return checks.filter((check) => !check.ok).map((check) => check.check);
}

describe("fedcred doctor in a healthy lab", () => {
  it("passes every check, in order, and exits 0", async () => {
    const { run, checks } = await doctor(labEnvironment(lab));
    expect(run.code).toBe(0);
    expect(checks.map((check) => check.check)).toEqual([
      "assertion source",
      "AZURE_TENANT_ID",
      "AZURE_CLIENT_ID",
      "AZURE_FEDERATED_TOKEN_FILE",
      "AZURE_AUTHORITY_HOST",
      "token file present",
      "token file readable",
      "token decodes",
      "token fresh",
      "token audience",
      "token format",
      "token identity",
      "proxy",
      "authority reachable",
    ]);
    for (const check of checks) {
      expect(Object.keys(check)).toEqual(["check", "ok", "detail", "fix"]);
      expect(check).toMatchObject({ ok: true, fix: null });
    }
    expect(find(checks, "token file present").detail).toContain("a symlink to ..data/token");
    expect(find(checks, "token identity").detail).toContain(lab.subjects.kubernetes);
    expect(find(checks, "authority reachable").detail).toContain(
      `${lab.entra.url}/${lab.tenantId}/oauth2/v2.0/token`,
    );
  });

  it("--scope sends a real token request, and prints no token", async () => {
    const before = lab.entra.tokenRequestCount;
    const { run, checks } = await doctor(labEnvironment(lab), "--scope", scope);
    expect(run.code).toBe(0);
    expect(lab.entra.tokenRequestCount).toBe(before + 1);
    expect(find(checks, "token request").detail).toMatch(
      /^Entra issued a Bearer token for "https:\/\/storage.azure.com" in \d+ ms/,
    );
    expect(run.stdout).not.toMatch(/eyJ[\w-]{20,}/);
  });

  it("prints each check for people, with a summary", async () => {
    const run = await fedcred(["doctor"], { env: labEnvironment(lab) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^✓ AZURE_TENANT_ID +\S+$/m);
    expect(run.stdout).toContain("All 14 checks passed.");
  });
});

describe("fedcred doctor finds what is wrong", () => {
  it("a missing variable: the check fails with the fix, later checks that need it are skipped, exit 1", async () => {
    const env = labEnvironment(lab);
    delete env.AZURE_CLIENT_ID;
    const { run, checks } = await doctor(env, "--scope", scope);
    expect(run.code).toBe(1);
    expect(failed(checks)).toEqual(["AZURE_CLIENT_ID", "token request"]);
    expect(find(checks, "AZURE_CLIENT_ID")).toMatchObject({ detail: "not set" });
    expect(find(checks, "AZURE_CLIENT_ID").fix).toContain("azure.workload.identity/client-id");
    expect(find(checks, "token request").detail).toContain("not sent");

    const human = await fedcred(["doctor"], { env });
    expect(human.stdout).toMatch(/^✗ AZURE_CLIENT_ID +not set$/m);
    expect(human.stdout).toMatch(/^ +fix: Set AZURE_CLIENT_ID/m);
    expect(human.stdout).toContain("1 of 14 checks failed.");
  });

  it("an invalid tenant id or authority host: core's own message", async () => {
    const { checks } = await doctor(
      labEnvironment(lab, {
        AZURE_TENANT_ID: "../evil",
        AZURE_AUTHORITY_HOST: "http://login.example",
      }),
    );
    expect(failed(checks)).toEqual(["AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST"]);
    expect(find(checks, "AZURE_AUTHORITY_HOST").detail).toContain("must use https");
  });

  it("an unreadable token file: a directory, and a symlink into a folder the kubelet removed", async () => {
    const directory = join(lab.directory, "a-directory");
    await mkdir(directory, { recursive: true });
    const asDirectory = await doctor(
      labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: directory }),
    );
    expect(asDirectory.run.code).toBe(1);
    expect(failed(asDirectory.checks)).toEqual(["token file present"]);
    expect(find(asDirectory.checks, "token file present").detail).toBe(
      `${directory} is a directory`,
    );

    const dangling = join(lab.directory, "dangling-token");
    await symlink("..data/token", dangling);
    const { checks } = await doctor(labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: dangling }));
    expect(find(checks, "token file present").detail).toContain("whose target is missing (ENOENT)");
    expect(find(checks, "token file present").fix).toContain("..data");
  });

  it("an empty token file, and one that is not a JWT", async () => {
    const empty = join(lab.directory, "empty-token");
    await writeFile(empty, "\n");
    const { checks } = await doctor(labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: empty }));
    expect(find(checks, "token file readable")).toMatchObject({
      ok: false,
      detail: `${empty} is empty`,
    });
    const garbage = join(lab.directory, "garbage-token");
    await writeFile(garbage, "hello world");
    const decoded = await doctor(labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: garbage }));
    expect(failed(decoded.checks)).toEqual(["token decodes"]);
  });

  it("an expired token: the freshness check fails, and --scope shows the provider refusing to send it", async () => {
    const path = join(lab.directory, "expired-token");
    await writeFile(
      path,
      await lab.issuer.mint({
        subject: lab.subjects.issuer,
        audience: "api://AzureADTokenExchange",
        lifetimeSeconds: -600,
      }),
    );
    const { run, checks } = await doctor(
      labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: path }),
      "--scope",
      scope,
    );
    expect(run.code).toBe(1);
    expect(failed(checks)).toEqual(["token fresh", "token request"]);
    expect(find(checks, "token fresh").detail).toMatch(/^The token expired 10 min ago/);
    expect(find(checks, "token fresh").fix).toContain("kubelet");
    expect(find(checks, "token request").detail).toContain("expired");
  });

  it("a token Entra refuses: --scope shows Entra's answer and how to add the FIC", async () => {
    const path = join(lab.directory, "unknown-subject-token");
    await writeFile(
      path,
      await lab.issuer.mint({
        subject: "fedcred:lab:someone-else",
        audience: "api://AzureADTokenExchange",
      }),
    );
    const { checks } = await doctor(
      labEnvironment(lab, { AZURE_FEDERATED_TOKEN_FILE: path }),
      "--scope",
      scope,
    );
    expect(failed(checks)).toEqual(["token request"]);
    expect(find(checks, "token request").detail).toContain("AADSTS700213");
    expect(find(checks, "token request").fix).toContain(`"subject":"fedcred:lab:someone-else"`);
  });

  it("a proxy from the environment is reported without its password", async () => {
    const proxy = "http://alice:s3cret@proxy.corp.example:3128";
    const loopback = await doctor(
      labEnvironment(lab, { HTTPS_PROXY: proxy, NO_PROXY: ".corp.example" }),
    );
    expect(loopback.run.code).toBe(0);
    expect(find(loopback.checks, "proxy").detail).toBe(
      "HTTPS_PROXY=http://proxy.corp.example:3128 (with credentials, not shown) is set, but localhost is a loopback host, which is never proxied; NO_PROXY=.corp.example",
    );
    // A proxy on loopback where nothing listens: the request for the remote authority goes to
    // it (and fails), so nothing, not even a DNS query, leaves the machine.
    const remote = await doctor(
      labEnvironment(lab, {
        https_proxy: "http://alice:s3cret@127.0.0.1:9",
        AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
      }),
      "--timeout",
      "2",
    );
    expect(find(remote.checks, "proxy").detail).toBe(
      "https_proxy=http://127.0.0.1:9 (with credentials, not shown): token requests to login.microsoftonline.com go through it",
    );
    // The reachability check goes through that proxy, which does not exist.
    expect(find(remote.checks, "authority reachable").ok).toBe(false);
    expect(remote.run.stdout).not.toContain("s3cret");
  });

  it("never hangs: an authority that accepts connections and never answers fails after --timeout", async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const started = performance.now();
      const { run, checks } = await doctor(
        labEnvironment(lab, { AZURE_AUTHORITY_HOST: `https://127.0.0.1:${port}` }),
        "--timeout",
        "1",
        "--scope",
        scope,
      );
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(run.code).toBe(1);
      expect(find(checks, "authority reachable").ok).toBe(false);
      expect(find(checks, "token request").ok).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});

describe("fedcred doctor and AKS identity bindings", () => {
  let proxy: IdentityBindingProxy;
  let bindingEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    proxy = await startIdentityBindingProxy({
      target: lab.entra.url,
      targetCa: lab.tlsAuthority.caCertificate,
    });
    const clientId = randomUUID();
    lab.entra.addApp(lab.tenantId, {
      clientId,
      federatedCredentials: [
        {
          issuer: lab.kubernetes.issuer,
          subject: lab.subjects.kubernetes,
          audiences: [BINDING_AUDIENCE],
        },
      ],
    });
    const [namespace, name] = lab.subjects.kubernetes.split(":").slice(2) as [string, string];
    const { token } = await lab.kubernetes.mintServiceAccountToken({
      namespace,
      name,
      audiences: [BINDING_AUDIENCE],
    });
    const path = join(lab.directory, "binding-token");
    await writeFile(path, token);
    bindingEnv = labEnvironment(lab, {
      AZURE_CLIENT_ID: clientId,
      AZURE_FEDERATED_TOKEN_FILE: path,
      AZURE_KUBERNETES_TOKEN_PROXY: proxy.url,
      AZURE_KUBERNETES_SNI_NAME: proxy.serverName,
      AZURE_KUBERNETES_CA_DATA: proxy.caCertificate,
    });
  });
  afterAll(() => proxy?.close());

  it("checks the binding's variables and TLS, and sends the token request through the proxy", async () => {
    const { run, checks } = await doctor(bindingEnv, "--scope", scope);
    expect(failed(checks)).toEqual([]);
    expect(run.code).toBe(0);
    expect(find(checks, "token audience").detail).toContain("an AKS identity binding's token");
    expect(find(checks, "identity binding").detail).toContain(
      `TLS as ${proxy.serverName} verified`,
    );
    expect(find(checks, "token request").detail).toContain(
      "through the identity-binding token proxy",
    );
    expect(proxy.forwardedCount).toBe(1);
  });

  it("a wrong server name fails the TLS handshake, and the token request is not sent", async () => {
    const { checks } = await doctor(
      { ...bindingEnv, AZURE_KUBERNETES_SNI_NAME: "other.fedcred.test" },
      "--scope",
      scope,
    );
    expect(failed(checks)).toEqual(["identity binding", "token request"]);
    expect(find(checks, "identity binding").detail).toContain("as other.fedcred.test failed");
  });

  it("both CA variables: the settings are refused as the credential refuses them", async () => {
    const caFile = join(lab.directory, "binding-ca.pem");
    await writeFile(caFile, proxy.caCertificate);
    const { checks } = await doctor({ ...bindingEnv, AZURE_KUBERNETES_CA_FILE: caFile });
    expect(find(checks, "identity binding").detail).toContain("are both set");
  });

  it("the binding's audience without its variables: the audience check says to use the proxy", async () => {
    const env = { ...bindingEnv };
    delete env.AZURE_KUBERNETES_TOKEN_PROXY;
    delete env.AZURE_KUBERNETES_SNI_NAME;
    delete env.AZURE_KUBERNETES_CA_DATA;
    const { run, checks } = await doctor(env);
    expect(run.code).toBe(1);
    expect(failed(checks)).toEqual(["token audience"]);
    expect(find(checks, "token audience").detail).toContain("token proxy");
  });
});

describe("fedcred doctor reports what detection sees", () => {
  it("in the lab: the token file, and the AWS credentials it ranks lower", async () => {
    const { checks } = await doctor(labEnvironment(lab));
    expect(checks[0]).toEqual({
      check: "assertion source",
      ok: true,
      detail: `token file: AZURE_FEDERATED_TOKEN_FILE is set (${lab.env.AZURE_FEDERATED_TOKEN_FILE}); also seen, lower in precedence: AWS (AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set)`,
      fix: null,
    });
    const human = await fedcred(["doctor"], { env: labEnvironment(lab) });
    expect(human.stdout.split("\n")[0]).toMatch(
      /^✓ assertion source +token file: AZURE_FEDERATED_TOKEN_FILE is set \(/,
    );
  });

  it("in a GitHub Actions job: the Actions token, whether its package is installed, and no secret", async () => {
    const requestToken = "actions-request-token-secret";
    const env = {
      ...bareEnvironment(lab.directory),
      GITHUB_ACTIONS: "true",
      ACTIONS_ID_TOKEN_REQUEST_URL: "https://pipelines.actions.githubusercontent.com/x/idtoken",
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    };
    const { run, checks } = await doctor(env);
    // Where the built CLI resolves it from, without the NODE_PATH the test runner is given.
    const probe = spawnSync(
      process.execPath,
      [
        "-e",
        'require("node:module").createRequire(process.argv[1]).resolve("@fedcred/github-actions/package.json")',
        join(import.meta.dirname, "..", "dist", "bin.mjs"),
      ],
      { env: { PATH: process.env.PATH }, cwd: process.cwd() },
    );
    const packageThere = probe.status === 0;
    const reason =
      "GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set";
    expect(checks[0]).toEqual(
      packageThere
        ? { check: "assertion source", ok: true, detail: reason, fix: null }
        : {
            check: "assertion source",
            ok: true,
            detail: `${reason}; @fedcred/github-actions is not installed here`,
            fix: "detectAssertion() loads @fedcred/github-actions on its first call: npm install @fedcred/github-actions",
          },
    );
    expect(run.stdout).not.toContain(requestToken);
    // The token file and the variables only workloadIdentityCredential reads are not needed
    // there: said, not failed; the job's doctor run ends 0.
    expect(failed(checks)).toEqual([]);
    expect(run.code).toBe(0);
    expect(find(checks, "AZURE_FEDERATED_TOKEN_FILE").detail).toBe(
      "not set: not needed with the GitHub Actions source (the assertion comes from it)",
    );
    expect(find(checks, "AZURE_TENANT_ID").detail).toBe(
      "not set: not needed with the GitHub Actions source (give ClientAssertionCredential the tenant id in code)",
    );
    expect(checks.map((check) => check.check)).not.toContain("token file present");
  });

  it("with nothing to detect: the check fails and lists what it looked for", async () => {
    const { run, checks } = await doctor({
      ...bareEnvironment(lab.directory),
      GITHUB_ACTIONS: "true",
    });
    expect(run.code).toBe(1);
    const check = find(checks, "assertion source");
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(
      /^No assertion source detected: checked AZURE_FEDERATED_TOKEN_FILE; /,
    );
    expect(check.detail).toContain(
      "GITHUB_ACTIONS is set but ACTIONS_ID_TOKEN_REQUEST_URL is not: give the job `permissions: id-token: write`",
    );
    expect(check.fix).toContain("give ClientAssertionCredential its source yourself");
    expect(failed(checks)).toContain("AZURE_FEDERATED_TOKEN_FILE");
  });
});
