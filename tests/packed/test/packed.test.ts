import { execFile, spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const packages = ["core", "file", "emulator"];
let project: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "fedcred-packed-"));
  const tarballs = join(project, "tarballs");
  await mkdir(tarballs);
  for (const name of packages) {
    await run("pnpm", ["pack", "--pack-destination", tarballs], {
      cwd: join(root, "packages", name),
    });
  }
  const files = await readdir(tarballs);
  const tarball = (name: string): string => {
    const file = files.find((f) => f.startsWith(`fedcred-${name}-`));
    if (!file) throw new Error(`no tarball for ${name} in ${files.join(", ")}`);
    return `file:./tarballs/${file}`;
  };
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({
      name: "fresh-user-project",
      private: true,
      dependencies: {
        "@fedcred/core": tarball("core"),
        "@fedcred/file": tarball("file"),
        "@fedcred/emulator": tarball("emulator"),
        // What a user moving from @azure/identity already has: its options type, and the
        // default HttpClient and a logger to put in the option bag.
        "@azure/identity": "4.14.1",
        "@azure/core-rest-pipeline": "1.25.1",
        "@azure/logger": "^1.3.0",
      },
      overrides: { "@fedcred/core": tarball("core") },
    }),
  );
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: project,
  });
  await cp(join(here, "../fixtures"), project, { recursive: true });
});

afterAll(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe("the packed tarballs in a fresh project", () => {
  it("ship only dist, package.json and README", async () => {
    const { stdout } = await run("tar", [
      "-tzf",
      join(project, "tarballs", (await readdir(join(project, "tarballs")))[0]!),
    ]);
    const entries = stdout.trim().split("\n");
    expect(entries).toContain("package/package.json");
    expect(entries).toContain("package/dist/index.mjs");
    expect(entries).toContain("package/dist/index.cjs");
    expect(
      entries.every((entry) =>
        /^package\/(dist\/|package\.json$|README\.md$|LICENSE$)/.test(entry),
      ),
    ).toBe(true);
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
    const tsc = join(root, "node_modules", ".bin", "tsc");
    const result = await run(
      tsc,
      [
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--types",
        "node",
        "--typeRoots",
        join(root, "node_modules", "@types"),
        "use-types.mts",
        "use-types.cts",
      ],
      { cwd: project },
    ).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe("");
  });
});

describe("@azure/identity's ClientAssertionCredentialOptions in the packed core", () => {
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
