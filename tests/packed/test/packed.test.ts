import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const packages = ["core", "file", "emulator", "kubernetes"];
const tsc = join(root, "node_modules", ".bin", "tsc");
const nodeNext = [
  "--strict",
  "--module",
  "nodenext",
  "--moduleResolution",
  "nodenext",
  "--types",
  "node",
  "--typeRoots",
  join(root, "node_modules", "@types"),
];
/** A fresh project of the tarballs, without @kubernetes/client-node (the optional peer). */
let project: string;
/** Another, with @kubernetes/client-node 1.4.0: installed while the tests of `project` run. */
let clientNodeProject: string;
let clientNodeInstalled: Promise<void> | undefined;

async function npmInstall(cwd: string): Promise<void> {
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd,
  });
  await cp(join(here, "../fixtures"), cwd, { recursive: true });
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "fedcred-packed-"));
  clientNodeProject = await mkdtemp(join(tmpdir(), "fedcred-packed-client-node-"));
  const tarballs = join(project, "tarballs");
  await mkdir(tarballs);
  await Promise.all(
    packages.map((name) =>
      run("pnpm", ["pack", "--pack-destination", tarballs], {
        cwd: join(root, "packages", name),
      }),
    ),
  );
  const files = await readdir(tarballs);
  const tarball = (name: string): string => {
    const file = files.find((f) => f.startsWith(`fedcred-${name}-`));
    if (!file) throw new Error(`no tarball for ${name} in ${files.join(", ")}`);
    return `file:${join(tarballs, file)}`;
  };
  const fedcred = {
    "@fedcred/core": tarball("core"),
    "@fedcred/file": tarball("file"),
    "@fedcred/kubernetes": tarball("kubernetes"),
    "@fedcred/emulator": tarball("emulator"),
  };
  // The tarballs depend on each other by version ranges of packages not published: they come
  // from the tarballs too.
  const overrides = {
    "@fedcred/core": fedcred["@fedcred/core"],
    "@fedcred/file": fedcred["@fedcred/file"],
  };
  await writeFile(
    join(clientNodeProject, "package.json"),
    JSON.stringify({
      name: "fresh-kubernetes-project",
      private: true,
      dependencies: { ...fedcred, "@kubernetes/client-node": "1.4.0" },
      overrides,
    }),
  );
  clientNodeInstalled = npmInstall(clientNodeProject);
  // Awaited by the tests that use it; until then a failure must not be an unhandled rejection.
  clientNodeInstalled.catch(() => {});
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({
      name: "fresh-user-project",
      private: true,
      dependencies: {
        ...fedcred,
        // What a user moving from @azure/identity already has: its options type, and the
        // default HttpClient and a logger to put in the option bag.
        "@azure/identity": "4.14.1",
        "@azure/core-rest-pipeline": "1.25.1",
        "@azure/logger": "^1.3.0",
      },
      overrides,
    }),
  );
  await npmInstall(project);
});

afterAll(async () => {
  await clientNodeInstalled?.catch(() => {});
  for (const dir of [project, clientNodeProject]) {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

describe("the packed tarballs in a fresh project", () => {
  it("ship only dist, package.json and README", async () => {
    const tarballs = join(project, "tarballs");
    const files = await readdir(tarballs);
    expect(files).toHaveLength(packages.length);
    for (const file of files) {
      const { stdout } = await run("tar", ["-tzf", join(tarballs, file)]);
      const entries = stdout.trim().split("\n");
      expect(entries, file).toContain("package/package.json");
      expect(entries, file).toContain("package/dist/index.mjs");
      expect(entries, file).toContain("package/dist/index.cjs");
      expect(
        entries.filter(
          (entry) => !/^package\/(dist\/|package\.json$|README\.md$|LICENSE$)/.test(entry),
        ),
        file,
      ).toEqual([]);
    }
  });

  it("work from ESM: a token from a loopback endpoint, then a cache hit", async () => {
    const { stdout } = await run("node", ["use-esm.mjs"], { cwd: project });
    const result = JSON.parse(stdout);
    expect(result.token).toBe("token-1");
    expect(result.same).toBe(true);
    expect(result.errors).toEqual(["function", "function"]);
    expect(result.requests).toEqual([
      {
        path: "/tenant-esm/oauth2/v2.0/token",
        form: {
          client_id: "client-esm",
          scope: "https://storage.azure.com/.default",
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: "header.payload.signature",
        },
      },
    ]);
  });

  it("work from CommonJS, with AZURE_FEDERATED_TOKEN_FILE", async () => {
    const { stdout } = await run("node", ["use-cjs.cjs"], { cwd: project });
    const result = JSON.parse(stdout);
    expect(result.token).toBe("token-1");
    expect(result.unavailable).toBe(true);
    expect(result.requests).toHaveLength(1);
    expect(result.requests[0].path).toBe("/tenant-cjs/oauth2/v2.0/token");
    expect(result.requests[0].form.client_assertion).toBe("header.payload.signature");
  });

  it("type-check from TypeScript under NodeNext, as ESM and as CommonJS", async () => {
    // skipLibCheck off, as tsc defaults to: the .d.ts of the tarballs are checked too, and
    // @fedcred/kubernetes's must not need @kubernetes/client-node, which this project lacks.
    const args = [
      "--noEmit",
      "--skipLibCheck",
      "false",
      ...nodeNext,
      "use-types.mts",
      "use-types.cts",
      "use-kubernetes-types.mts",
      "use-kubernetes-types.cts",
    ];
    const result = await run(tsc, args, { cwd: project }).catch(
      (error: { stdout: string }) => error,
    );
    expect(result.stdout).toBe("");
  });
});

describe("@azure/identity's ClientAssertionCredentialOptions in the packed core", () => {
  const warningOf = /^azure:fedcred:warning (options\.[\w.]+) has no effect: /;

  it("type-check: every option and nested field of @azure/identity's is accepted", async () => {
    const args = ["--noEmit", "--noErrorTruncation", ...nodeNext, "use-identity-options.mts"];
    const result = await run(tsc, args, {
      cwd: project,
    }).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe("");
  });

  it("run: the whole option bag gets a token, with one warning per ignored option", async () => {
    await run(tsc, [...nodeNext, "--target", "es2022", "identity-options.mts"], { cwd: project });
    const { stdout, stderr } = await run("node", ["use-identity-options.mjs"], {
      cwd: project,
      env: { ...process.env, AZURE_LOG_LEVEL: "warning" },
    });
    const result = JSON.parse(stdout);
    expect(result.tokens).toEqual(["token-1", "token-1", "token-2"]);
    expect(result.paths).toEqual([
      "/tenant-identity/oauth2/v2.0/token",
      "/tenant-identity/oauth2/v2.0/token",
    ]);
    // httpClient is honoured: both token requests went through it, with the user agent prefix.
    expect(result.sent).toHaveLength(2);
    for (const request of result.sent) {
      expect(request.url).toMatch(
        /^http:\/\/127\.0\.0\.1:\d+\/tenant-identity\/oauth2\/v2\.0\/token$/,
      );
      expect(request.userAgent).toMatch(/^fresh-user-project\/1\.0 /);
    }
    const warned = stderr
      .split("\n")
      .map((line) => warningOf.exec(line)?.[1])
      .filter((option) => option !== undefined)
      .sort();
    expect(warned).toEqual(
      [
        "options.additionalPolicies",
        "options.agent",
        "options.allowInsecureConnection",
        "options.loggingOptions.additionalAllowedHeaderNames",
        "options.loggingOptions.additionalAllowedQueryParameters",
        "options.loggingOptions.enableUnsafeSupportLogging",
        "options.loggingOptions.logger",
        // Set beside httpClient, which makes its own connections.
        "options.proxyOptions",
        "options.redirectOptions",
        "options.telemetryOptions",
        "options.tlsOptions",
        "options.tokenCachePersistenceOptions",
      ].sort(),
    );
    expect(stderr).not.toContain("proxy-password");
  });
});

describe("the packed emulator", () => {
  it("installs a fedcred-emulator bin that prints a working lab environment and stops on SIGTERM", async () => {
    const child = spawn(join(project, "node_modules", ".bin", "fedcred-emulator"), ["--json"], {
      cwd: project,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const env = await new Promise<Record<string, string>>((resolve, reject) => {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        try {
          resolve(JSON.parse(output) as Record<string, string>);
        } catch {
          // not all printed yet
        }
      });
      child.on("exit", (code) => reject(new Error(`fedcred-emulator exited ${code}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      for (const name of [
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
      ]) {
        expect(env[name]).toBeTruthy();
      }
      expect(env.AZURE_AUTHORITY_HOST).toMatch(/^https:\/\/(localhost|127\.0\.0\.1):\d+\/?$/);
      const script = [
        'import { ClientAssertionCredential } from "@fedcred/core";',
        'import { fromFile } from "@fedcred/file";',
        "const credential = new ClientAssertionCredential(process.env.AZURE_TENANT_ID, process.env.AZURE_CLIENT_ID, fromFile());",
        'const token = await credential.getToken("https://storage.azure.com/.default");',
        "console.log(token.tokenType, token.expiresOnTimestamp > Date.now());",
      ].join("\n");
      await writeFile(join(project, "use-lab.mjs"), script);
      const { stdout } = await run("node", ["use-lab.mjs"], {
        cwd: project,
        env: { ...process.env, ...env },
      });
      expect(stdout.trim()).toBe("Bearer true");
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});

describe("the packed @fedcred/kubernetes without @kubernetes/client-node", () => {
  // The workload-identity webhook's variables, and where watch-client-node.mjs logs lookups.
  const env = (fixture: string) => ({
    ...process.env,
    AZURE_TENANT_ID: "tenant-k8s",
    AZURE_CLIENT_ID: "client-k8s",
    AZURE_FEDERATED_TOKEN_FILE: join(project, `${fixture}.projected-token`),
    CLIENT_NODE_LOOKUPS: join(project, `${fixture}.client-node-lookups`),
  });

  it("declares @kubernetes/client-node as an optional peer, and the project has none", async () => {
    const tarball = (await readdir(join(project, "tarballs"))).find((file) =>
      file.startsWith("fedcred-kubernetes-"),
    );
    const { stdout } = await run("tar", [
      "-xOzf",
      join(project, "tarballs", tarball!),
      "package/package.json",
    ]);
    const manifest = JSON.parse(stdout);
    expect(manifest.peerDependencies).toEqual({ "@kubernetes/client-node": ">=1.4 <3" });
    expect(manifest.peerDependenciesMeta).toEqual({
      "@kubernetes/client-node": { optional: true },
    });
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["@fedcred/core", "@fedcred/file"]);
    expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
    // What the tests below stand on: npm did not install the optional peer.
    expect(existsSync(join(project, "node_modules", "@kubernetes", "client-node"))).toBe(false);
  });

  it.each(["use-kubernetes.cjs", "use-kubernetes.mjs"])(
    "%s: workloadIdentityCredential and the projected token work and never look for client-node; fromServiceAccountToken says to install it",
    async (fixture) => {
      const { stdout } = await run("node", ["--import", "./watch-client-node.mjs", fixture], {
        cwd: project,
        env: env(fixture),
      });
      const result = JSON.parse(stdout);
      expect(result.constants).toEqual({
        AZURE_KUBERNETES_CA_DATA: "AZURE_KUBERNETES_CA_DATA",
        AZURE_KUBERNETES_CA_FILE: "AZURE_KUBERNETES_CA_FILE",
        AZURE_KUBERNETES_SNI_NAME: "AZURE_KUBERNETES_SNI_NAME",
        AZURE_KUBERNETES_TOKEN_PROXY: "AZURE_KUBERNETES_TOKEN_PROXY",
        DEFAULT_AUDIENCE: "api://AzureADTokenExchange",
      });
      expect(result.projected).toBe("header.projected.signature");
      expect(result.workloadIdentity).toEqual({
        isCredential: true,
        token: "token-1",
        requests: [
          {
            path: "/tenant-k8s/oauth2/v2.0/token",
            form: {
              client_id: "client-k8s",
              scope: "https://storage.azure.com/.default",
              grant_type: "client_credentials",
              client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
              client_assertion: "header.projected.signature",
            },
          },
        ],
      });
      // Loading the package, the projected token, the credential and fromServiceAccountToken's
      // factory never resolve client-node...
      expect(result.lookupsBefore).toEqual([]);
      // ...its assertion's first call does, and fails saying what to install.
      expect(result.lookupsAfter).toEqual(["@kubernetes/client-node"]);
      expect(result.serviceAccountToken).toMatchObject({
        instance: true,
        isInstance: true,
        name: "CredentialUnavailableError",
        code: "missing_configuration",
        causeCode: "ERR_MODULE_NOT_FOUND",
      });
      expect(result.serviceAccountToken.message).toContain("npm install @kubernetes/client-node");
    },
  );
});

describe("the packed @fedcred/kubernetes with @kubernetes/client-node 1.4.0", () => {
  beforeAll(() => clientNodeInstalled);

  it("gets a token from CommonJS by TokenRequest and Entra, and the process ends by itself", async () => {
    const exit = await run("node", ["use-kubernetes-client-node.cjs"], {
      cwd: clientNodeProject,
      timeout: 20_000,
      killSignal: "SIGKILL",
    }).then(
      ({ stdout, stderr }) => ({ code: 0, signal: null, stdout, stderr }),
      (error: { code: number; signal: string | null; stdout: string; stderr: string }) => error,
    );
    // A handle left open shows as signal SIGKILL (killed at the timeout), not as a pass.
    expect({ code: exit.code, signal: exit.signal, stderr: exit.stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: "",
    });
    const result = JSON.parse(exit.stdout);
    expect(result.tokenLength).toBeGreaterThan(0);
    expect(result.expiresInFuture).toBe(true);
    expect(result.claims).toEqual({
      tid: "5b0c3f1e-0000-4000-8000-0000000008e5",
      appid: "2d4c6e8a-0000-4000-8000-0000000008a9",
      aud: "https://storage.azure.com",
    });
    expect(result.tokenRequests).toEqual([
      {
        path: "/api/v1/namespaces/prod/serviceaccounts/billing/token",
        user: "system:serviceaccount:ops:minter",
        status: 201,
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { audiences: ["api://AzureADTokenExchange"], expirationSeconds: 3600 },
        },
      },
    ]);
    expect(result.entraTokenRequests).toBe(1);
  });
});
