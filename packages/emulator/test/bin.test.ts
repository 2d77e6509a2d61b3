import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
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
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const packageRoot = join(import.meta.dirname, "..");
const bin = join(packageRoot, "dist", "bin.mjs");
const run = promisify(execFile);
/** Starting a lab generates RSA keys: on a loaded 2-core machine that can take many seconds. */
const DEADLINE_MS = 120_000;

/** Builds the package unless dist/bin.mjs is newer than every source file (turbo builds before tests). */
async function ensureBuilt(): Promise<void> {
  const sources = readdirSync(join(packageRoot, "src")).map(
    (name) => statSync(join(packageRoot, "src", name)).mtimeMs,
  );
  if (existsSync(bin) && statSync(bin).mtimeMs > Math.max(...sources)) return;
  await run("pnpm", ["build"], { cwd: packageRoot });
}

/** The `export NAME=value` lines the bin prints, as a record (single quotes undone). */
function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) {
    env[match[1] as string] = (match[2] as string).replace(/^'(.*)'$/, "$1");
  }
  return env;
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
      const env = parseExports(output.slice(0, output.lastIndexOf("\n") + 1));
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
  }, 120_000);

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
  }, 120_000);

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8"));
    const { stdout } = await run(process.execPath, [bin, "--version"]);
    expect(stdout).toBe(`${version}\n`);
  });
});

/** Polls `condition` every `intervalMs` until it returns something truthy; fails after DEADLINE_MS. */
async function waitFor<T>(
  what: string,
  condition: () => T | false | undefined,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether `pid` runs: gone, or a zombie no one reaped yet, means it exited. */
function isRunning(pid: number): boolean {
  try {
    const state = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" });
    return state.trim() !== "" && !state.trim().startsWith("Z");
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

function connects(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), "127.0.0.1", () => {
      socket.end();
      resolve();
    });
    socket.on("error", reject);
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before printing a line`)));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

/** Started by the shell in the background, as a script does; prints the emulator's PID. */
const BACKGROUND = '"$0" "$@" > /dev/null 2>> "$ERRORS" & echo $!; wait';
/** What `npm exec` does: run the command through `sh -c`, and wait. */
const NPM_EXEC =
  'require("node:child_process").spawn("sh", process.argv.slice(1), { stdio: "inherit" })';

/** Processes a test started, by PID, and folders it made: ended and removed after it. */
const pids: number[] = [];
const folders: string[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) {
    if (isRunning(pid)) process.kill(pid, "SIGKILL");
  }
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A folder for the test, holding `tmp`, the emulator's TMPDIR, so the test sees every folder it makes. */
function scratch(): { env: NodeJS.ProcessEnv; tmp: string; envFile: string; errors: string } {
  const root = mkdtempSync(join(tmpdir(), "fedcred-bin-"));
  folders.push(root);
  const tmp = join(root, "tmp");
  mkdirSync(tmp);
  const errors = join(root, "errors.log");
  return {
    env: { ...process.env, TMPDIR: tmp, ERRORS: errors },
    tmp,
    envFile: join(root, "lab.env"),
    errors,
  };
}

// Longer than a waitFor deadline, so a test that waits in vain says what for.
describe("fedcred-emulator in scripts", { timeout: 3 * DEADLINE_MS }, () => {
  beforeAll(ensureBuilt, 60_000);

  /**
   * Starts the bin in the background of `sh -c`, as a script does, the shell itself started by
   * this test or, with `npmExec`, by a Node process as `npm exec` starts it. Returns the process
   * this test started and the bin's PID.
   */
  async function startInBackground(
    env: NodeJS.ProcessEnv,
    args: string[],
    npmExec = false,
  ): Promise<{ launcher: ChildProcess; pid: number }> {
    const shell = ["-c", BACKGROUND, process.execPath, bin, ...args];
    const launcher = npmExec
      ? spawn(process.execPath, ["-e", NPM_EXEC, "--", ...shell], {
          env,
          stdio: ["ignore", "pipe", "ignore"],
        })
      : spawn("sh", shell, { env, stdio: ["ignore", "pipe", "ignore"] });
    pids.push(launcher.pid as number);
    const pid = Number(await firstLine(launcher));
    pids.push(pid);
    return { launcher, pid };
  }

  /** Waits for the bin to exit, then checks that it left neither its folder nor the environment file. */
  async function expectCleanExit(pid: number, tmp: string, envFile: string): Promise<void> {
    await waitFor("the emulator to exit", () => !isRunning(pid));
    expect(readdirSync(tmp)).toEqual([]);
    expect(existsSync(envFile)).toBe(false);
  }

  it("--write-env writes the environment by a rename once every server listens, and removes it on exit", async () => {
    const { env, tmp, envFile } = scratch();
    const child = spawn(process.execPath, [bin, "--write-env", envFile], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    pids.push(child.pid as number);
    let printed = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
    });
    const text = await waitFor(
      "the environment file",
      () => existsSync(envFile) && readFileSync(envFile, "utf8"),
      20,
    );
    // Seen at once, the file is whole, and every server it names already accepts connections.
    const lab = parseExports(text);
    expect(text.endsWith(`export FEDCRED_RESOURCE_SCOPE=${lab.FEDCRED_RESOURCE_SCOPE}\n`)).toBe(
      true,
    );
    await Promise.all(
      [lab.AZURE_AUTHORITY_HOST, lab.FEDCRED_RESOURCE_URL, lab.AWS_ENDPOINT_URL_STS].map((url) =>
        connects(url as string),
      ),
    );
    const kubeconfig = JSON.parse(readFileSync(lab.KUBECONFIG as string, "utf8"));
    await connects(kubeconfig.clusters[0].cluster.server);
    expect(readdirSync(join(envFile, "..")).filter((name) => name.includes(".tmp-"))).toEqual([]);
    await waitFor("the same text on stdout", () => printed === text);

    // A script sources it and runs a program that needs nothing else (NODE_EXTRA_CA_CERTS included).
    const { stdout } = await run(
      "sh",
      [
        "-c",
        '. "$1" && exec "$2" --input-type=module -e "$3"',
        "sh",
        envFile,
        process.execPath,
        CLIENT,
      ],
      { cwd: packageRoot },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      status: 200,
      caller: { appid: lab.AZURE_CLIENT_ID, tid: lab.AZURE_TENANT_ID },
      kubernetesSubject: "system:serviceaccount:fedcred:workload",
    });

    child.kill("SIGTERM");
    expect(await exitOf(child)).toBe(0);
    await expectCleanExit(child.pid as number, tmp, envFile);
  });

  it("exits and removes its folder when the shell that started it in the background is killed", async () => {
    const { env, tmp, envFile, errors } = scratch();
    const { launcher, pid } = await startInBackground(env, ["--write-env", envFile]);
    await waitFor("the environment file", () => existsSync(envFile));
    expect(readdirSync(tmp)).toHaveLength(1);

    launcher.kill("SIGKILL");
    await expectCleanExit(pid, tmp, envFile);
    expect(readFileSync(errors, "utf8")).toMatch(
      new RegExp(`its parent process \\(${launcher.pid}\\) exited, stopping`),
    );
  });

  it("exits when the program that started its shell is killed, as npx (node, then sh -c, then the bin)", async () => {
    const { env, tmp, envFile, errors } = scratch();
    const { launcher, pid } = await startInBackground(env, ["--write-env", envFile], true);
    await waitFor("the environment file", () => existsSync(envFile));

    // SIGKILL: npm forwards nothing, and the shell in between lives on, waiting for the bin.
    launcher.kill("SIGKILL");
    await expectCleanExit(pid, tmp, envFile);
    expect(readFileSync(errors, "utf8")).toMatch(
      new RegExp(`the process that started its parent \\(${launcher.pid}\\) exited, stopping`),
    );
  });

  it("exits and removes its folder when its parent goes away while the servers are still starting", async () => {
    const { env, tmp, envFile, errors } = scratch();
    const { launcher, pid } = await startInBackground(env, ["--write-env", envFile]);
    // The bin makes its folder before it starts any server, which takes RSA key generation.
    await waitFor("the lab's folder", () => readdirSync(tmp).length > 0, 10);
    expect(existsSync(envFile)).toBe(false);

    launcher.kill("SIGKILL");
    await expectCleanExit(pid, tmp, envFile);
    const said = readFileSync(errors, "utf8");
    expect(said).toMatch(/its parent process \(\d+\) exited, stopping/);
    expect(said).not.toMatch(/Stop with Ctrl-C/);
  });

  it("--ignore-parent keeps it running after its parent exits; SIGHUP then stops it cleanly", async () => {
    const { env, tmp, envFile, errors } = scratch();
    const { launcher, pid } = await startInBackground(env, [
      "--ignore-parent",
      "--write-env",
      envFile,
    ]);
    await waitFor("the environment file", () => existsSync(envFile));
    launcher.kill("SIGKILL");
    await exitOf(launcher);
    // Four times the watch's period: long enough for a watching emulator to have left.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(isRunning(pid)).toBe(true);
    expect(existsSync(envFile)).toBe(true);

    process.kill(pid, "SIGHUP");
    await expectCleanExit(pid, tmp, envFile);
    expect(readFileSync(errors, "utf8")).toMatch(/SIGHUP, stopping/);
  });
});

describe("fedcred-emulator's refusals", () => {
  beforeAll(ensureBuilt, 60_000);

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

  it("refuses a bad command line with exit 2: unknown options, Node's --env-file, a folder that does not exist", async () => {
    const { env, envFile } = scratch();
    const cwd = join(envFile, "..");
    expect(await fails(["--port", "1"], cwd, env)).toEqual({
      code: 2,
      stderr: "fedcred-emulator: Unknown option '--port'. See fedcred-emulator --help.\n",
    });
    // Node reads --env-file even after the script's name: it only reaches the bin when the file exists.
    writeFileSync(envFile, "");
    const nodeOption = await fails(["--env-file", envFile], cwd, env);
    expect(nodeOption.code).toBe(2);
    expect(nodeOption.stderr).toMatch(/--env-file is Node's own option.*use --write-env FILE\.\n$/);
    expect(await fails(["--write-env", join(cwd, "no", "lab.env")], cwd, env)).toEqual({
      code: 2,
      stderr: `fedcred-emulator: --write-env ${join(cwd, "no", "lab.env")}: the folder ${join(cwd, "no")} does not exist\n`,
    });
  });
});
