import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { describe, expect, it, vi } from "vitest";
import {
  type AssertionContext,
  CredentialUnavailableError,
  describeDetection,
  detectAssertion,
} from "../src/index.js";
import { loadLogger } from "../src/logger.js";

const context: AssertionContext = {
  clientId: "c",
  tenantId: "t",
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
};

const TOKEN_FILE = {
  AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
};
const GITHUB = {
  GITHUB_ACTIONS: "true",
  ACTIONS_ID_TOKEN_REQUEST_URL: "https://pipelines.actions.githubusercontent.com/abc/idtoken",
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token-secret",
};
const PIPELINES = {
  TF_BUILD: "True",
  SYSTEM_OIDCREQUESTURI:
    "https://dev.azure.com/org/project-id/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken",
  AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: "9f0b7a2c-0000-4000-8000-000000000001",
  SYSTEM_ACCESSTOKEN: "system-access-token-secret",
};
const AWS_KEYS = {
  AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "secret-key",
  AWS_REGION: "eu-west-1",
};
const APP_SERVICE = {
  IDENTITY_ENDPOINT: "http://127.0.0.1:41741/msi/token",
  IDENTITY_HEADER: "identity-header-secret",
};

const cases: [
  string,
  Record<string, string>,
  Parameters<typeof describeDetection>[0],
  string | undefined,
  string,
][] = [
  [
    "the workload-identity token file",
    TOKEN_FILE,
    {},
    "token file",
    "token file: AZURE_FEDERATED_TOKEN_FILE is set (/var/run/secrets/azure/tokens/azure-identity-token)",
  ],
  [
    "GitHub Actions with id-token: write",
    GITHUB,
    {},
    "GitHub Actions",
    "GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set",
  ],
  [
    "an Azure Pipelines AzureCLI@2 task",
    PIPELINES,
    {},
    "Azure Pipelines",
    "Azure Pipelines: SYSTEM_OIDCREQUESTURI and AZURESUBSCRIPTION_SERVICE_CONNECTION_ID are set",
  ],
  [
    "an Azure Pipelines script step with the service connection id given",
    { SYSTEM_OIDCREQUESTURI: PIPELINES.SYSTEM_OIDCREQUESTURI, SYSTEM_ACCESSTOKEN: "x" },
    { serviceConnectionId: "9f0b7a2c-0000-4000-8000-000000000002" },
    "Azure Pipelines",
    "Azure Pipelines: SYSTEM_OIDCREQUESTURI is set and options.serviceConnectionId is given",
  ],
  [
    "AWS access keys",
    AWS_KEYS,
    {},
    "AWS",
    "AWS: AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set",
  ],
  [
    "EKS IRSA",
    {
      AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
      AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
    },
    {},
    "AWS",
    "AWS: AWS credentials: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are set",
  ],
  [
    "an ECS task role",
    { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" },
    {},
    "AWS",
    "AWS: AWS credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set",
  ],
  ["Cloud Run", { K_SERVICE: "billing" }, {}, "GCP metadata", "GCP metadata: K_SERVICE is set"],
  [
    "a GCE metadata host override",
    { GCE_METADATA_HOST: "127.0.0.1:8080" },
    {},
    "GCP metadata",
    "GCP metadata: GCE_METADATA_HOST is set",
  ],
  [
    "a GCE VM, said by the option",
    {},
    { gcpMetadata: true },
    "GCP metadata",
    "GCP metadata: options.gcpMetadata is true",
  ],
  [
    "App Service or Container Apps",
    APP_SERVICE,
    {},
    "managed identity",
    "managed identity: IDENTITY_ENDPOINT and IDENTITY_HEADER are set",
  ],
  [
    "an Azure VM, said by the option",
    {},
    { imds: true },
    "managed identity",
    "managed identity: options.imds is true (IMDS)",
  ],
  [
    "a pod with the token file on AWS, in a GitHub runner",
    { ...AWS_KEYS, ...GITHUB, ...TOKEN_FILE },
    {},
    "token file",
    "token file: AZURE_FEDERATED_TOKEN_FILE is set (/var/run/secrets/azure/tokens/azure-identity-token); also seen, lower in precedence: GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set), AWS (AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set)",
  ],
  [
    "Azure Pipelines on a self-hosted agent in App Service",
    { ...APP_SERVICE, ...PIPELINES },
    { imds: true },
    "Azure Pipelines",
    "Azure Pipelines: SYSTEM_OIDCREQUESTURI and AZURESUBSCRIPTION_SERVICE_CONNECTION_ID are set; also seen, lower in precedence: managed identity (IDENTITY_ENDPOINT and IDENTITY_HEADER are set)",
  ],
];

describe("describeDetection and detectAssertion on a table of environments", () => {
  it.each(cases)("%s", (_name, env, options, source, reason) => {
    const detection = describeDetection({ ...options, env });
    expect(detection.source).toBe(source);
    expect(detection.reason).toBe(reason);
    expect(detection.seen[0]).toBe(source);
    const detected = detectAssertion({ ...options, env });
    expect(detected.source).toBe(source);
    expect(detected.reason).toBe(reason);
    for (const secret of [
      "request-token-secret",
      "system-access-token-secret",
      "identity-header-secret",
      "secret-key",
    ]) {
      expect(reason).not.toContain(secret);
    }
  });

  it("names the package of each source", () => {
    expect(describeDetection({ env: TOKEN_FILE }).packageName).toBe("@fedcred/file");
    expect(describeDetection({ env: GITHUB }).packageName).toBe("@fedcred/github-actions");
    expect(describeDetection({ env: PIPELINES }).packageName).toBe("@fedcred/azure-pipelines");
    expect(describeDetection({ env: AWS_KEYS }).packageName).toBe("@fedcred/aws");
    expect(describeDetection({ env: { K_SERVICE: "x" } }).packageName).toBe("@fedcred/gcp");
    expect(describeDetection({ env: APP_SERVICE }).packageName).toBe("@fedcred/managed-identity");
    expect(describeDetection({ env: { ...TOKEN_FILE, ...AWS_KEYS } }).seen).toEqual([
      "token file",
      "AWS",
    ]);
  });

  it("with nothing present, lists what it checked, and the calls reject so a chain moves on", async () => {
    const detection = describeDetection({ env: {} });
    expect(detection).toMatchObject({ source: undefined, packageName: undefined, seen: [] });
    expect(detection.reason).toMatch(
      /^No assertion source detected: checked AZURE_FEDERATED_TOKEN_FILE; /,
    );
    for (const name of [
      "ACTIONS_ID_TOKEN_REQUEST_URL",
      "SYSTEM_OIDCREQUESTURI",
      "AWS_ACCESS_KEY_ID",
      "GCE_METADATA_HOST",
      "K_SERVICE",
      "IDENTITY_ENDPOINT",
      "options.imds",
    ]) {
      expect(detection.reason).toContain(name);
    }
    const detected = detectAssertion({ env: {} });
    expect(detected.source).toBeUndefined();
    const error = await Promise.resolve(detected(context)).catch((e: unknown) => e);
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "missing_configuration", message: detection.reason });
  });

  it("says what is half there: Actions without id-token permission, Pipelines without a connection", () => {
    expect(describeDetection({ env: { GITHUB_ACTIONS: "true" } }).reason).toContain(
      "GITHUB_ACTIONS is set but ACTIONS_ID_TOKEN_REQUEST_URL is not: give the job `permissions: id-token: write`",
    );
    expect(
      describeDetection({ env: { SYSTEM_OIDCREQUESTURI: PIPELINES.SYSTEM_OIDCREQUESTURI } }).reason,
    ).toContain("SYSTEM_OIDCREQUESTURI is set but no service connection id");
    expect(describeDetection({ env: { IDENTITY_ENDPOINT: "http://x" } }).reason).toContain(
      "only one of IDENTITY_ENDPOINT and IDENTITY_HEADER is set",
    );
  });

  it("says which half of a pair is there: the Actions request URL or token, AWS web identity, AWS keys", () => {
    expect(
      describeDetection({
        env: { GITHUB_ACTIONS: "true", ACTIONS_ID_TOKEN_REQUEST_URL: "https://x" },
      }).reason,
    ).toContain(
      "only one of ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN is set",
    );
    expect(describeDetection({ env: { ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" } }).reason).toContain(
      "only one of ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN is set",
    );
    expect(describeDetection({ env: { AWS_WEB_IDENTITY_TOKEN_FILE: "/t" } }).reason).toContain(
      "only one of AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN is set",
    );
    const keyOnly = describeDetection({ env: { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE" } }).reason;
    expect(keyOnly).toContain("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
    expect(keyOnly).not.toContain("AKIAEXAMPLE");
  });

  it("ignores empty and blank variables", () => {
    expect(
      describeDetection({ env: { AZURE_FEDERATED_TOKEN_FILE: "  ", K_SERVICE: "" } }).source,
    ).toBeUndefined();
  });

  it("defaults to process.env, read when it runs", () => {
    vi.stubEnv("AZURE_FEDERATED_TOKEN_FILE", "/tmp/from-process-env");
    try {
      const detected = detectAssertion();
      vi.stubEnv("AZURE_FEDERATED_TOKEN_FILE", "");
      expect(detected.reason).toBe(
        "token file: AZURE_FEDERATED_TOKEN_FILE is set (/tmp/from-process-env)",
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("refuses options it cannot use, at once", () => {
    expect(() => detectAssertion({ audience: "" })).toThrow(
      "options.audience must be a non-empty string.",
    );
    expect(() => detectAssertion({ imds: "yes" as never })).toThrow(
      "options.imds must be true or false.",
    );
    expect(() => describeDetection({ importProvider: "x" as never })).toThrow(
      CredentialUnavailableError,
    );
  });
});

describe("detectAssertion loading the provider", () => {
  it("imports the chosen package on the first call only and builds its factory with the detected values", async () => {
    const built: unknown[] = [];
    const importProvider = vi.fn(async (name: string) => ({
      fromAzurePipelines: (options: unknown) => {
        built.push(options);
        return async (ctx: AssertionContext) => `pipelines-assertion-for-${ctx.clientId}`;
      },
      name,
    }));
    const detected = detectAssertion({ env: PIPELINES, importProvider });
    expect(importProvider).not.toHaveBeenCalled();
    const results = await Promise.all([detected(context), detected(context), detected(context)]);
    expect(results).toEqual(Array(3).fill("pipelines-assertion-for-c"));
    expect(await detected(context)).toBe("pipelines-assertion-for-c");
    expect(importProvider.mock.calls).toEqual([["@fedcred/azure-pipelines"]]);
    expect(built).toEqual([
      {
        serviceConnectionId: PIPELINES.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
        oidcRequestUri: PIPELINES.SYSTEM_OIDCREQUESTURI,
        systemAccessToken: PIPELINES.SYSTEM_ACCESSTOKEN,
      },
    ]);

    // From process.env, the provider reads its variables itself (on every call where it does).
    vi.stubEnv("SYSTEM_OIDCREQUESTURI", PIPELINES.SYSTEM_OIDCREQUESTURI);
    vi.stubEnv(
      "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
      PIPELINES.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
    );
    vi.stubEnv("SYSTEM_ACCESSTOKEN", PIPELINES.SYSTEM_ACCESSTOKEN);
    try {
      await detectAssertion({ importProvider })(context);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(built[1]).toEqual({
      serviceConnectionId: PIPELINES.AZURESUBSCRIPTION_SERVICE_CONNECTION_ID,
    });
  });

  it("passes the audience, the metadata host and the managed identity options", async () => {
    const built: Record<string, unknown> = {};
    const importProvider = async () =>
      Object.fromEntries(
        [
          "fromGitHubActions",
          "fromAwsWebIdentityToken",
          "fromGcpMetadata",
          "fromManagedIdentity",
        ].map((name) => [
          name,
          (options: unknown) => {
            built[name] = options;
            return () => "a";
          },
        ]),
      );
    const audience = "api://AzureADTokenExchangeUSGov";
    await detectAssertion({ env: GITHUB, audience, importProvider })(context);
    await detectAssertion({ env: AWS_KEYS, audience, importProvider })(context);
    await detectAssertion({ env: { GCE_METADATA_HOST: "127.0.0.1:9" }, importProvider })(context);
    await detectAssertion({ env: APP_SERVICE, importProvider })(context);
    const appService = built.fromManagedIdentity;
    await detectAssertion({
      env: {},
      imds: true,
      managedIdentity: { clientId: "mi" },
      importProvider,
    })(context);
    expect(appService).toEqual({
      endpoint: APP_SERVICE.IDENTITY_ENDPOINT,
      identityHeader: APP_SERVICE.IDENTITY_HEADER,
    });
    expect(built).toEqual({
      fromGitHubActions: {
        audience,
        idTokenRequestUrl: GITHUB.ACTIONS_ID_TOKEN_REQUEST_URL,
        idTokenRequestToken: GITHUB.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
      },
      fromAwsWebIdentityToken: { audience, region: "eu-west-1" },
      fromGcpMetadata: { metadataHost: "127.0.0.1:9" },
      fromManagedIdentity: { clientId: "mi" },
    });
  });

  it("names the package to install when the chosen provider is not installed, and tries again next time", async () => {
    // The built core, run where no provider is installed: no workspace link, no NODE_PATH.
    const directory = await mkdtemp(join(tmpdir(), "fedcred-detect-"));
    const core = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.mjs")).href;
    const script = `
      const { detectAssertion } = await import(${JSON.stringify(core)});
      const detected = detectAssertion({ env: ${JSON.stringify(GITHUB)} });
      for (const attempt of [1, 2]) {
        const error = await Promise.resolve(detected({})).catch((e) => e);
        console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message }));
      }`;
    try {
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: directory,
        env: { PATH: process.env.PATH },
        encoding: "utf8",
      });
      expect(run.stderr).toBe("");
      const lines = run.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as unknown);
      expect(lines).toEqual(
        Array(2).fill({
          name: "CredentialUnavailableError",
          code: "missing_configuration",
          message:
            "Detected GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set, but @fedcred/github-actions is not installed: npm install @fedcred/github-actions",
        }),
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it("propagates the provider factory's own configuration error", async () => {
    const refusal = new CredentialUnavailableError(
      "SYSTEM_ACCESSTOKEN is not set",
      "missing_configuration",
    );
    const detected = detectAssertion({
      env: PIPELINES,
      importProvider: async () => ({
        fromAzurePipelines: () => {
          throw refusal;
        },
      }),
    });
    await expect(Promise.resolve(detected(context))).rejects.toBe(refusal);
  });

  it("logs its choice once at info, with the one-line reason", async () => {
    loadLogger();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines: string[] = [];
    const original = AzureLogger.log;
    AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
    setLogLevel("info");
    try {
      const detected = detectAssertion({
        env: GITHUB,
        importProvider: async () => ({ fromGitHubActions: () => () => "a" }),
      });
      await detected(context);
      await detected(context);
      const mine = lines.filter((line) => line.includes("detectAssertion"));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toContain(
        "detectAssertion: GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set",
      );
      expect(mine[0]).toMatch(/azure:fedcred:info/);
    } finally {
      AzureLogger.log = original;
      setLogLevel(undefined as never);
    }
  });
});

describe("detectAssertion from the CommonJS build, in a flat node_modules (npm)", () => {
  const CORE = fileURLToPath(new URL("..", import.meta.url));
  it.skipIf(!existsSync(join(CORE, "dist/index.cjs")))(
    "loads the provider's CommonJS build: its errors are instances of the classes the application required",
    async () => {
      const app = await mkdtemp(join(tmpdir(), "fedcred-detect-cjs-"));
      try {
        // node_modules/@fedcred/core: this build, its dependencies through a link.
        const core = join(app, "node_modules/@fedcred/core");
        await mkdir(core, { recursive: true });
        await cp(join(CORE, "dist"), join(core, "dist"), { recursive: true });
        await cp(join(CORE, "package.json"), join(core, "package.json"));
        await symlink(join(CORE, "node_modules"), join(core, "node_modules"), "dir");
        // node_modules/@fedcred/file: a dual package whose source throws core's error.
        const provider = join(app, "node_modules/@fedcred/file");
        await mkdir(provider, { recursive: true });
        await writeFile(
          join(provider, "package.json"),
          JSON.stringify({
            name: "@fedcred/file",
            version: "0.0.0",
            exports: { ".": { import: "./index.mjs", require: "./index.cjs" } },
          }),
        );
        const body = (load: string) =>
          `${load}\nconst fromFile = () => async () => { throw new CredentialUnavailableError("no token file here", "missing_configuration"); };\n`;
        await writeFile(
          join(provider, "index.cjs"),
          `${body('const { CredentialUnavailableError } = require("@fedcred/core");')}module.exports = { fromFile };\n`,
        );
        await writeFile(
          join(provider, "index.mjs"),
          `${body('import { CredentialUnavailableError } from "@fedcred/core";')}export { fromFile };\n`,
        );
        await writeFile(
          join(app, "app.cjs"),
          `const { detectAssertion, CredentialUnavailableError } = require("@fedcred/core");
           const getAssertion = detectAssertion({ env: { AZURE_FEDERATED_TOKEN_FILE: "/absent" } });
           Promise.resolve(getAssertion({})).then(
             () => console.log("resolved"),
             (error) => console.log(JSON.stringify({ message: error.message, instance: error instanceof CredentialUnavailableError })),
           );`,
        );
        const { stdout } = await promisify(execFile)(process.execPath, [join(app, "app.cjs")], {
          cwd: app,
        });
        expect(JSON.parse(stdout)).toEqual({ message: "no token file here", instance: true });
      } finally {
        await rm(app, { recursive: true, force: true });
      }
    },
  );
});
