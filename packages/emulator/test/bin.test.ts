import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const packageRoot = join(import.meta.dirname, "..");
const bin = join(packageRoot, "dist", "bin.mjs");
const run = promisify(execFile);

/** Builds the package unless dist/bin.mjs is newer than every source file (turbo builds before tests). */
async function ensureBuilt(): Promise<void> {
  const sources = readdirSync(join(packageRoot, "src")).map(
    (name) => statSync(join(packageRoot, "src", name)).mtimeMs,
  );
  if (existsSync(bin) && statSync(bin).mtimeMs > Math.max(...sources)) return;
  await run("pnpm", ["build"], { cwd: packageRoot });
}

function readEnvironment(child: ChildProcess): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let output = "";
    let errors = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      // Only whole lines: a chunk may end in the middle of a value.
      const complete = output.slice(0, output.lastIndexOf("\n") + 1);
      const env: Record<string, string> = {};
      for (const match of complete.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) {
        env[match[1] as string] = (match[2] as string).replace(/^'(.*)'$/, "$1");
      }
      if (env.FEDCRED_RESOURCE_SCOPE) resolve(env);
    });
    child.on("exit", (code) => reject(new Error(`fedcred-emulator exited ${code}: ${errors}`)));
  });
}

/** A program that knows nothing of the lab but its environment: Entra, the Kubernetes API and STS. */
const CLIENT = `
import { WorkloadIdentityCredential } from "@azure/identity";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
const credential = new WorkloadIdentityCredential({ disableInstanceDiscovery: true });
const { token } = await credential.getToken(process.env.FEDCRED_RESOURCE_SCOPE);
const response = await fetch(process.env.FEDCRED_RESOURCE_URL, { headers: { authorization: "Bearer " + token } });
const kubeconfig = new KubeConfig();
kubeconfig.loadFromDefault();
const namespace = kubeconfig.getContextObject(kubeconfig.getCurrentContext()).namespace;
const tokenRequest = await kubeconfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
  namespace,
  name: "workload",
  body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: ["api://AzureADTokenExchange"], expirationSeconds: 600 } },
});
const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
console.log(JSON.stringify({
  status: response.status,
  caller: await response.json(),
  kubernetesSubject: JSON.parse(Buffer.from(tokenRequest.status.token.split(".")[1], "base64url").toString()).sub,
  awsArn: identity.Arn,
}));
`;

describe("fedcred-emulator", () => {
  beforeAll(ensureBuilt, 60_000);

  it("prints an environment that @azure/identity, client-node and client-sts use as is, and stops cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin], {
      cwd: packageRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const env = await readEnvironment(child);
      expect(Object.keys(env)).toEqual(
        expect.arrayContaining([
          "AZURE_AUTHORITY_HOST",
          "AZURE_TENANT_ID",
          "AZURE_CLIENT_ID",
          "AZURE_FEDERATED_TOKEN_FILE",
          "KUBECONFIG",
          "AWS_ENDPOINT_URL_STS",
          "AWS_REGION",
          "AWS_ACCESS_KEY_ID",
          "AWS_SECRET_ACCESS_KEY",
          "NODE_EXTRA_CA_CERTS",
        ]),
      );
      expect(env.AZURE_AUTHORITY_HOST).toMatch(/^https:\/\/localhost:\d+\/$/);
      expect(existsSync(env.AZURE_FEDERATED_TOKEN_FILE as string)).toBe(true);

      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", CLIENT], {
        cwd: packageRoot,
        env: { ...process.env, ...env },
      });
      expect(JSON.parse(stdout)).toMatchObject({
        status: 200,
        caller: { appid: env.AZURE_CLIENT_ID, tid: env.AZURE_TENANT_ID },
        kubernetesSubject: "system:serviceaccount:fedcred:workload",
        awsArn: "arn:aws:sts::123456789012:assumed-role/fedcred-workload/fedcred-lab",
      });

      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(existsSync(env.NODE_EXTRA_CA_CERTS as string)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 30_000);

  it("takes a JSON config, writes into --dir and prints JSON with --json", async () => {
    const directory = mkdtempSync(join(tmpdir(), "fedcred-bin-"));
    const configFile = join(directory, "lab.json");
    const tenantId = "8f0e2a6c-1d5b-4c3e-9a7f-2b6d4e8c0a1f";
    writeFileSync(configFile, JSON.stringify({ tenantId, aws: { region: "eu-west-1" } }));
    const child = spawn(
      process.execPath,
      [bin, "--config", configFile, "--dir", directory, "--json"],
      {
        cwd: packageRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const env = await new Promise<Record<string, string>>((resolve, reject) => {
        let output = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          try {
            resolve(JSON.parse(output) as Record<string, string>);
          } catch {
            // not complete yet
          }
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}`)));
      });
      expect(env).toMatchObject({
        AZURE_TENANT_ID: tenantId,
        AWS_REGION: "eu-west-1",
        NODE_EXTRA_CA_CERTS: join(directory, "ca.pem"),
        KUBECONFIG: join(directory, "kubeconfig"),
      });
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(existsSync(join(directory, "ca.pem"))).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(directory, { recursive: true, force: true });
    }
  }, 30_000);

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8"));
    const { stdout } = await run(process.execPath, [bin, "--version"]);
    expect(stdout).toBe(`${version}\n`);
  });
});

describe("fedcred-emulator's refusals", () => {
  beforeAll(ensureBuilt, 60_000);

  const folders: string[] = [];
  afterEach(() => {
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });

  /** A folder for the test, holding `tmp`, the emulator's TMPDIR, so the test sees every folder it makes. */
  function scratch(): { env: NodeJS.ProcessEnv; tmp: string; envFile: string } {
    const root = mkdtempSync(join(tmpdir(), "fedcred-bin-"));
    folders.push(root);
    const tmp = join(root, "tmp");
    mkdirSync(tmp);
    return { env: { ...process.env, TMPDIR: tmp }, tmp, envFile: join(root, "lab.env") };
  }

  /** Runs the bin to its end: its exit code and what it wrote to stderr. */
  async function fails(
    args: string[],
    cwd: string,
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stderr: string }> {
    try {
      await run(process.execPath, [bin, ...args], { cwd, env });
    } catch (error) {
      const { code, stderr } = error as { code: number; stderr: string };
      return { code, stderr };
    }
    throw new Error("the bin succeeded");
  }

  it("refuses a bad configuration file before starting anything: exit 2, the file and the fields, no stack", async () => {
    const { env, tmp, envFile } = scratch();
    const cwd = join(envFile, "..");
    writeFileSync(
      join(cwd, "lab.json"),
      JSON.stringify({ tenantId: 5, kubernetes: { serviceaccount: "billing" } }),
    );
    expect(await fails(["--config", "lab.json"], cwd, env)).toEqual({
      code: 2,
      stderr:
        "fedcred-emulator: lab.json: tenantId must be a string (a GUID or a domain name), got the number 5\n" +
        "fedcred-emulator: lab.json: unknown field kubernetes.serviceaccount (did you mean kubernetes.serviceAccount?); kubernetes takes namespace, serviceAccount, tokenExpirationSeconds\n",
    });
    writeFileSync(join(cwd, "broken.json"), '{ "tenantId": ');
    const broken = await fails(["--config", "broken.json"], cwd, env);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^fedcred-emulator: broken\.json: not JSON: .+\n$/);
    expect(await fails(["--config", "missing.json"], cwd, env)).toEqual({
      code: 2,
      stderr: "fedcred-emulator: missing.json: cannot read the configuration: ENOENT\n",
    });
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("refuses a bad command line with exit 2", async () => {
    const { env, envFile } = scratch();
    const cwd = join(envFile, "..");
    expect(await fails(["--port", "1"], cwd, env)).toEqual({
      code: 2,
      stderr: "fedcred-emulator: Unknown option '--port'. See fedcred-emulator --help.\n",
    });
  });
});
