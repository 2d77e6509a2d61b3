import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { lockfileSeed } from "@fedcred/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const packages = ["core", "file", "emulator", "kubernetes", "aws"];
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
/** The @aws-sdk/client-sts that @fedcred/aws is developed and tested with. */
const clientStsVersion: string = JSON.parse(
  readFileSync(join(root, "packages", "aws", "package.json"), "utf8"),
).devDependencies["@aws-sdk/client-sts"];
/** A fresh project of the tarballs, without the providers' optional peers. */
let project: string;
/**
 * Another, with the optional peers @kubernetes/client-node 1.4.0 and @aws-sdk/client-sts:
 * installed while the tests of `project` run.
 */
let peersProject: string;
let peersInstalled: Promise<void> | undefined;

/**
 * Every package a fresh project of the tarballs may resolve from the lockfile: the packed
 * packages' dependencies and peers, and `extra` (the project's own dependencies).
 */
function seedRoots(extra: string[]): string[] {
  const names = new Set(extra);
  for (const name of packages) {
    const manifest = JSON.parse(
      readFileSync(join(root, "packages", name, "package.json"), "utf8"),
    ) as Record<string, Record<string, string> | undefined>;
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
      for (const dependency of Object.keys(manifest[field] ?? {})) names.add(dependency);
    }
  }
  return [...names];
}

/**
 * Installs a fresh project with pnpm, offline: the tarballs, and the other packages from the
 * store that the workspace's `pnpm install` filled. npm's flat node_modules, which most users
 * have. `overrides` point the tarballs' dependencies on each other (not published) at the
 * tarballs.
 */
async function install(
  cwd: string,
  overrides: Record<string, string>,
  without: string[] = [],
): Promise<void> {
  const manifest = JSON.parse(await readFile(join(cwd, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  const lockfile = readFileSync(join(root, "pnpm-lock.yaml"), "utf8");
  await writeFile(
    join(cwd, "pnpm-lock.yaml"),
    lockfileSeed(lockfile, seedRoots(Object.keys(manifest.dependencies)), without),
  );
  const overridden = Object.entries(overrides).map(
    ([name, spec]) => `  ${JSON.stringify(name)}: ${JSON.stringify(spec)}\n`,
  );
  await writeFile(
    join(cwd, "pnpm-workspace.yaml"),
    `nodeLinker: hoisted\noverrides:\n${overridden.join("")}`,
  );
  // Under CI pnpm defaults to --frozen-lockfile, which refuses a lockfile without the project.
  await run("pnpm", ["install", "--offline", "--no-frozen-lockfile"], { cwd }).catch(
    (error: { stdout: string; stderr: string }) => {
      throw new Error(`pnpm install in ${cwd} failed:\n${error.stdout}${error.stderr}`);
    },
  );
  await cp(join(here, "../fixtures"), cwd, { recursive: true });
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "fedcred-packed-"));
  peersProject = await mkdtemp(join(tmpdir(), "fedcred-packed-peers-"));
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
    "@fedcred/aws": tarball("aws"),
  };
  // The tarballs depend on each other by version ranges of packages not published: they come
  // from the tarballs too.
  const overrides = {
    "@fedcred/core": fedcred["@fedcred/core"],
    "@fedcred/file": fedcred["@fedcred/file"],
  };
  await writeFile(
    join(peersProject, "package.json"),
    JSON.stringify({
      name: "fresh-peers-project",
      private: true,
      dependencies: {
        ...fedcred,
        "@kubernetes/client-node": "1.4.0",
        "@aws-sdk/client-sts": clientStsVersion,
      },
    }),
  );
  peersInstalled = install(peersProject, overrides);
  // Awaited by the tests that use it; until then a failure must not be an unhandled rejection.
  peersInstalled.catch(() => {});
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
    }),
  );
  // Without the providers' optional peers, which the workspace's lockfile holds.
  await install(project, overrides, ["@kubernetes/client-node", "@aws-sdk/client-sts"]);
});

afterAll(async () => {
  await peersInstalled?.catch(() => {});
  await Promise.all(
    [project, peersProject].map((dir) => dir && rm(dir, { recursive: true, force: true })),
  );
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
    // @fedcred/kubernetes's must not need @kubernetes/client-node, nor @fedcred/aws's
    // @aws-sdk/client-sts, which this project lacks.
    const args = [
      "--noEmit",
      "--skipLibCheck",
      "false",
      ...nodeNext,
      "use-types.mts",
      "use-types.cts",
      "use-kubernetes-types.mts",
      "use-kubernetes-types.cts",
      "use-aws-types.mts",
      "use-aws-types.cts",
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

/** The files a test run of a fixture in `project` writes, named after the fixture. */
const fixtureFile = (fixture: string, what: string): string => join(project, `${fixture}.${what}`);

/** Runs a use-without-peer fixture for a provider, logging peer lookups (watch-peers.mjs). */
async function runWithoutPeer(
  fixture: string,
  provider: string,
  env: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const { stdout } = await run("node", ["--import", "./watch-peers.mjs", fixture, provider], {
    cwd: project,
    env: {
      ...process.env,
      ...env,
      PEER_LOOKUPS: fixtureFile(`${provider}.${fixture}`, "peer-lookups"),
    },
  });
  return JSON.parse(stdout);
}

/** What federated-token.cjs prints for an end-to-end fixture, beside the platform's report. */
interface FederatedToken {
  tokenLength: number;
  expiresInFuture: boolean;
  claims: Record<string, unknown>;
  trustedIssuer: string;
  assertion: Record<string, unknown>;
  entraTokenRequests: number;
  [report: string]: unknown;
}

/**
 * Runs an end-to-end fixture in `peersProject` with nothing but loopback reachable
 * (loopback-only.mjs), and returns what it printed once it ended by itself: a handle left open
 * shows as signal SIGKILL (killed at the timeout), not as a pass.
 */
async function runToExit(
  fixture: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FederatedToken> {
  const exit = await run("node", ["--import", "./loopback-only.mjs", fixture], {
    cwd: peersProject,
    env,
    timeout: 90_000,
    killSignal: "SIGKILL",
  }).then(
    ({ stdout, stderr }) => ({ code: 0, signal: null, stdout, stderr }),
    (error: { code: number; signal: string | null; stdout: string; stderr: string }) => error,
  );
  expect({ code: exit.code, signal: exit.signal, stderr: exit.stderr }).toEqual({
    code: 0,
    signal: null,
    stderr: "",
  });
  return JSON.parse(exit.stdout);
}

/**
 * What every end-to-end fixture must have got: an access token for federated-token.cjs's app, from
 * one token request to the emulated Entra ID whose assertion came from the trusted issuer, with
 * the `sub` and `aud` given.
 */
function expectFederatedToken(
  result: FederatedToken,
  assertion: { sub: string; aud: string | string[] },
): void {
  expect(result.tokenLength).toBeGreaterThan(0);
  expect(result.expiresInFuture).toBe(true);
  expect(result.claims).toEqual({
    tid: "5b0c3f1e-0000-4000-8000-0000000008e5",
    appid: "2d4c6e8a-0000-4000-8000-0000000008a9",
    aud: "https://storage.azure.com",
  });
  expect(result.assertion).toEqual({ iss: result.trustedIssuer, ...assertion });
  expect(result.entraTokenRequests).toBe(1);
}

describe("the optional peers of the packed providers", () => {
  it.each([
    {
      provider: "kubernetes",
      peer: "@kubernetes/client-node",
      range: ">=1.4 <3",
      dependencies: ["@fedcred/core", "@fedcred/file"],
    },
    {
      provider: "aws",
      peer: "@aws-sdk/client-sts",
      range: ">=3.936.0",
      dependencies: ["@fedcred/core"],
    },
  ])(
    "@fedcred/$provider declares $peer $range as an optional peer, and the fresh project has none",
    async ({ provider, peer, range, dependencies }) => {
      const tarball = (await readdir(join(project, "tarballs"))).find((file) =>
        file.startsWith(`fedcred-${provider}-`),
      );
      const { stdout } = await run("tar", [
        "-xOzf",
        join(project, "tarballs", tarball!),
        "package/package.json",
      ]);
      const manifest = JSON.parse(stdout);
      expect(manifest.peerDependencies).toEqual({ [peer]: range });
      expect(manifest.peerDependenciesMeta).toEqual({ [peer]: { optional: true } });
      expect(Object.keys(manifest.dependencies).sort()).toEqual(dependencies);
      expect(JSON.stringify(manifest.dependencies)).not.toContain("workspace:");
      // What the tests below stand on: pnpm did not install the optional peer.
      expect(existsSync(join(project, "node_modules", ...peer.split("/")))).toBe(false);
    },
  );
});

describe("the packed @fedcred/kubernetes without @kubernetes/client-node", () => {
  it.each(["use-without-peer.cjs", "use-without-peer.mjs"])(
    "%s: workloadIdentityCredential and the projected token work and never look for client-node; fromServiceAccountToken says to install it",
    async (fixture) => {
      // The workload-identity webhook's variables.
      const result = await runWithoutPeer(fixture, "kubernetes", {
        AZURE_TENANT_ID: "tenant-k8s",
        AZURE_CLIENT_ID: "client-k8s",
        AZURE_FEDERATED_TOKEN_FILE: fixtureFile(fixture, "projected-token"),
      });
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
      expect((result.serviceAccountToken as { message: string }).message).toContain(
        "npm install @kubernetes/client-node",
      );
    },
  );
});

describe("the packed @fedcred/aws without @aws-sdk/client-sts", () => {
  it.each(["use-without-peer.cjs", "use-without-peer.mjs"])(
    "%s: loads, creating fromAwsWebIdentityToken never looks for client-sts; its first call says to install it",
    async (fixture) => {
      const result = await runWithoutPeer(fixture, "aws");
      expect(result.exports).toEqual(["fromAwsWebIdentityToken"]);
      // Option mistakes throw from the factory, without client-sts...
      expect(result.invalidOption).toEqual({
        name: "CredentialUnavailableError",
        code: "invalid_configuration",
      });
      // ...which loading the package and creating the assertion never resolve...
      expect(result.lookupsBefore).toEqual([]);
      // ...and the first call does, failing with what to install.
      expect(result.lookupsAfter).toEqual(["@aws-sdk/client-sts"]);
      const missing = {
        instance: true,
        isInstance: true,
        name: "CredentialUnavailableError",
        code: "missing_configuration",
        causeCode: "ERR_MODULE_NOT_FOUND",
      };
      expect(result.firstCall).toMatchObject(missing);
      expect((result.firstCall as { message: string }).message).toContain(
        "npm install @aws-sdk/client-sts",
      );
      // Through the credential: "try the next credential", and no token request sent.
      expect(result.credential).toMatchObject({ ...missing, tokenRequests: 0 });
    },
  );
});

describe("the packed providers with their peers installed, end to end from CommonJS", () => {
  beforeAll(() => peersInstalled);

  it("@fedcred/kubernetes with @kubernetes/client-node 1.4.0: a token by TokenRequest and Entra, and the process ends by itself", async () => {
    const result = await runToExit("use-kubernetes-client-node.cjs");
    expectFederatedToken(result, {
      sub: "system:serviceaccount:prod:billing",
      aud: ["api://AzureADTokenExchange"],
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
  });

  it(`@fedcred/aws with @aws-sdk/client-sts ${clientStsVersion}: a token by GetWebIdentityToken and Entra, and the process ends by itself`, async () => {
    // Nothing of this machine's AWS setup: no AWS_* variables, empty shared files, no instance
    // metadata. The fixture sets the region, the STS endpoint and the session's keys itself.
    const empty = fixtureFile("use-aws-client-sts", "empty");
    await writeFile(empty, "");
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_")),
    );
    const result = await runToExit("use-aws-client-sts.cjs", {
      ...env,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SHARED_CREDENTIALS_FILE: empty,
      AWS_CONFIG_FILE: empty,
      // The SDK's own switch for its notice that its releases from 2027 on need Node 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    // STS signed for the role, not the assumed-role session.
    expectFederatedToken(result, {
      sub: "arn:aws:iam::111122223333:role/billing",
      aud: "api://AzureADTokenExchange",
    });
    // One STS call, SigV4-signed with the session's keys from the environment, the defaults
    // explicit on the wire.
    expect(result.stsRequests).toEqual([
      {
        action: "GetWebIdentityToken",
        accessKeyId: "ASIAFEDCREDPACKED001",
        status: 200,
        params: {
          Action: "GetWebIdentityToken",
          Version: "2011-06-15",
          "Audience.member.1": "api://AzureADTokenExchange",
          SigningAlgorithm: "RS256",
          DurationSeconds: "300",
        },
      },
    ]);
  });
});
