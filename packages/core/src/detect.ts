import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { CredentialUnavailableError, invalidConfiguration } from "./errors.js";
import { logger } from "./logger.js";

/**
 * The sources {@link detectAssertion} knows, in its order of precedence.
 *
 * @example
 * ```ts
 * import type { DetectedSource } from "@fedcred/core";
 *
 * const ci: DetectedSource[] = ["GitHub Actions", "Azure Pipelines"];
 * ```
 */
export type DetectedSource =
  | "token file"
  | "GitHub Actions"
  | "Azure Pipelines"
  | "AWS"
  | "GCP metadata"
  | "managed identity";

/**
 * Options of {@link detectAssertion} and {@link describeDetection}.
 *
 * @example
 * ```ts
 * import type { DetectAssertionOptions } from "@fedcred/core";
 *
 * const options: DetectAssertionOptions = { audience: "api://AzureADTokenExchangeUSGov", imds: true };
 * ```
 */
export interface DetectAssertionOptions {
  /**
   * Where detection looks, read once when {@link detectAssertion} runs. Default `process.env`,
   * which the chosen provider then reads itself (on every call where it does so). A given `env`
   * is also what the provider gets: the values detection found there are passed as its options
   * (the token file path, the Actions request URL and token, the Pipelines request URI and access
   * token, the AWS region, the GCE metadata host, the identity endpoint and header, the IMDS host
   * of `AZURE_POD_IDENTITY_AUTHORITY_HOST`); the AWS SDK reads AWS credentials from `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * The audience to ask GitHub Actions, AWS STS and the GCP metadata server for. Default: each
   * provider's own (`api://AzureADTokenExchange`). Other clouds: `api://AzureADTokenExchangeUSGov`,
   * `api://AzureADTokenExchangeChina`.
   */
  audience?: string | undefined;
  /**
   * The Azure Pipelines service connection id. Default `AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`,
   * which the `AzureCLI@2` and `AzurePowerShell@5` tasks set for their script.
   */
  serviceConnectionId?: string | undefined;
  /** Which managed identity to ask for (user-assigned): passed to `fromManagedIdentity`. */
  managedIdentity?: { clientId?: string; resourceId?: string; objectId?: string } | undefined;
  /**
   * Also use Azure IMDS (`169.254.169.254`, an Azure VM or scale set) when nothing else is seen:
   * no variable shows it, and detection sends no request to find out. Default `false`.
   */
  imds?: boolean | undefined;
  /**
   * Also use the GCP metadata server when no variable shows it (a GCE VM, GKE): detection sends
   * no request to find out. Default `false`; Cloud Run, Cloud Functions and App Engine are seen
   * by their variables.
   */
  gcpMetadata?: boolean | undefined;
  /**
   * Loads a provider package by name, for bundled applications, where a computed `import()`
   * finds nothing: `(name) => ({ "@fedcred/file": () => import("@fedcred/file") })[name]()`.
   * Default: `import()` (`require()` in the CommonJS build) from `@fedcred/core`'s own folder,
   * then from the working directory.
   */
  importProvider?: ((packageName: string) => Promise<unknown>) | undefined;
}

/**
 * What {@link describeDetection} sees: the source it picks and why, in one line.
 *
 * @example
 * ```ts
 * import { describeDetection, type Detection } from "@fedcred/core";
 *
 * const detection: Detection = describeDetection();
 * console.log(detection.reason);
 * // GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set
 * ```
 */
export interface Detection {
  /** The source picked, or `undefined` when none is present. */
  source: DetectedSource | undefined;
  /** The package that provides it (`@fedcred/github-actions`), when one was picked. */
  packageName: string | undefined;
  /** One line: the source and the variables that show it, and what else was seen; or what was checked. */
  reason: string;
  /** Every source present, the picked one first, in order of precedence. */
  seen: DetectedSource[];
}

/**
 * The assertion function {@link detectAssertion} returns, with what it picked.
 *
 * @example
 * ```ts
 * import { detectAssertion, type DetectedAssertion } from "@fedcred/core";
 *
 * const getAssertion: DetectedAssertion = detectAssertion();
 * if (getAssertion.source === undefined) console.warn(getAssertion.reason);
 * ```
 */
export interface DetectedAssertion extends AssertionFunc {
  readonly source: DetectedSource | undefined;
  readonly packageName: string | undefined;
  readonly reason: string;
}

type Env = Readonly<Record<string, string | undefined>>;

interface Candidate {
  source: DetectedSource;
  packageName: string;
  factory: string;
  /** Why it is present ("X and Y are set"), or undefined when it is not. */
  evidence: string | undefined;
  /** The factory's options. */
  options: () => Record<string, unknown>;
}

/** Variables that show a GCP serverless runtime: Cloud Run services and jobs, Cloud Functions, App Engine. */
const GCP_VARIABLES = [
  "GCE_METADATA_HOST",
  "K_SERVICE",
  "CLOUD_RUN_JOB",
  "FUNCTION_TARGET",
  "GAE_APPLICATION",
];

function present(env: Env, name: string): boolean {
  return (env[name] ?? "").trim() !== "";
}

function value(env: Env, name: string): string | undefined {
  const found = env[name]?.trim();
  return found ? found : undefined;
}

function both(names: readonly string[]): string {
  return names.length === 1
    ? `${names[0]} is set`
    : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are set`;
}

/** Only the options that have a value: providers refuse what they do not know, not what is absent. */
function defined(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([, entry]) => entry !== undefined));
}

function candidates(env: Env, options: DetectAssertionOptions): Candidate[] {
  const audience = options.audience;
  // Values from an explicit env are handed over; from process.env the provider reads them itself.
  const given = (name: string): string | undefined =>
    options.env === undefined ? undefined : value(env, name);
  const serviceConnectionId =
    options.serviceConnectionId ?? value(env, "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID");
  const aws = [
    ["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"],
    ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
    ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"],
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    ["AWS_PROFILE"],
  ].find((names) => names.every((name) => present(env, name)));
  const gcp = GCP_VARIABLES.find((name) => present(env, name));
  const appService = ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"].every((name) => present(env, name));
  return [
    {
      source: "token file",
      packageName: "@fedcred/file",
      factory: "fromFile",
      evidence: present(env, "AZURE_FEDERATED_TOKEN_FILE")
        ? `AZURE_FEDERATED_TOKEN_FILE is set (${value(env, "AZURE_FEDERATED_TOKEN_FILE")})`
        : undefined,
      options: () => ({ path: value(env, "AZURE_FEDERATED_TOKEN_FILE") }),
    },
    {
      source: "GitHub Actions",
      packageName: "@fedcred/github-actions",
      factory: "fromGitHubActions",
      evidence:
        present(env, "ACTIONS_ID_TOKEN_REQUEST_URL") &&
        present(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
          ? both(["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
          : undefined,
      options: () =>
        defined({
          audience,
          idTokenRequestUrl: given("ACTIONS_ID_TOKEN_REQUEST_URL"),
          idTokenRequestToken: given("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        }),
    },
    {
      source: "Azure Pipelines",
      packageName: "@fedcred/azure-pipelines",
      factory: "fromAzurePipelines",
      evidence:
        present(env, "SYSTEM_OIDCREQUESTURI") && serviceConnectionId !== undefined
          ? options.serviceConnectionId !== undefined
            ? "SYSTEM_OIDCREQUESTURI is set and options.serviceConnectionId is given"
            : both(["SYSTEM_OIDCREQUESTURI", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"])
          : undefined,
      options: () =>
        defined({
          serviceConnectionId,
          oidcRequestUri: given("SYSTEM_OIDCREQUESTURI"),
          systemAccessToken: given("SYSTEM_ACCESSTOKEN"),
        }),
    },
    {
      source: "AWS",
      packageName: "@fedcred/aws",
      factory: "fromAwsWebIdentityToken",
      evidence: aws === undefined ? undefined : `AWS credentials: ${both(aws)}`,
      // The AWS SDK reads the credentials from process.env itself; the region can be handed over.
      options: () =>
        defined({ audience, region: given("AWS_REGION") ?? given("AWS_DEFAULT_REGION") }),
    },
    {
      source: "GCP metadata",
      packageName: "@fedcred/gcp",
      factory: "fromGcpMetadata",
      evidence:
        gcp !== undefined
          ? `${gcp} is set`
          : options.gcpMetadata === true
            ? "options.gcpMetadata is true"
            : undefined,
      options: () => defined({ audience, metadataHost: given("GCE_METADATA_HOST") }),
    },
    {
      source: "managed identity",
      packageName: "@fedcred/managed-identity",
      factory: "fromManagedIdentity",
      evidence: appService
        ? both(["IDENTITY_ENDPOINT", "IDENTITY_HEADER"])
        : options.imds === true
          ? "options.imds is true (IMDS)"
          : undefined,
      options: () =>
        defined({
          ...options.managedIdentity,
          audience,
          ...(appService
            ? { endpoint: given("IDENTITY_ENDPOINT"), identityHeader: given("IDENTITY_HEADER") }
            : { endpoint: given("AZURE_POD_IDENTITY_AUTHORITY_HOST") }),
        }),
    },
  ];
}

/** Half-present platforms: worth a sentence when nothing was picked. */
function hints(env: Env, options: DetectAssertionOptions): string[] {
  const found: string[] = [];
  if (present(env, "GITHUB_ACTIONS") && !present(env, "ACTIONS_ID_TOKEN_REQUEST_URL")) {
    found.push(
      "GITHUB_ACTIONS is set but ACTIONS_ID_TOKEN_REQUEST_URL is not: give the job `permissions: id-token: write`",
    );
  }
  if (
    present(env, "ACTIONS_ID_TOKEN_REQUEST_URL") !== present(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
  ) {
    found.push(
      "only one of ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN is set: the runner sets both for a job with `permissions: id-token: write`",
    );
  }
  if (present(env, "AWS_WEB_IDENTITY_TOKEN_FILE") !== present(env, "AWS_ROLE_ARN")) {
    found.push("only one of AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN is set");
  }
  if (present(env, "AWS_ACCESS_KEY_ID") !== present(env, "AWS_SECRET_ACCESS_KEY")) {
    found.push("only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
  }
  if (
    present(env, "SYSTEM_OIDCREQUESTURI") &&
    options.serviceConnectionId === undefined &&
    !present(env, "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")
  ) {
    found.push(
      "SYSTEM_OIDCREQUESTURI is set but no service connection id: run in an AzureCLI@2 task or pass options.serviceConnectionId",
    );
  }
  if (present(env, "IDENTITY_ENDPOINT") !== present(env, "IDENTITY_HEADER")) {
    found.push("only one of IDENTITY_ENDPOINT and IDENTITY_HEADER is set");
  }
  return found;
}

const CHECKED =
  "AZURE_FEDERATED_TOKEN_FILE; ACTIONS_ID_TOKEN_REQUEST_URL with ACTIONS_ID_TOKEN_REQUEST_TOKEN; SYSTEM_OIDCREQUESTURI with AZURESUBSCRIPTION_SERVICE_CONNECTION_ID; AWS credentials (AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI, AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY, AWS_PROFILE); " +
  `${GCP_VARIABLES.join(", ")}; IDENTITY_ENDPOINT with IDENTITY_HEADER`;

function checkOptions(options: DetectAssertionOptions): void {
  if (typeof options !== "object" || options === null) {
    throw invalidConfiguration("detectAssertion takes an options object, or nothing.");
  }
  for (const name of ["audience", "serviceConnectionId"] as const) {
    const given = options[name];
    if (given !== undefined && (typeof given !== "string" || given.trim() === "")) {
      throw invalidConfiguration(`options.${name} must be a non-empty string.`);
    }
  }
  for (const name of ["imds", "gcpMetadata"] as const) {
    const given = options[name];
    if (given !== undefined && typeof given !== "boolean") {
      throw invalidConfiguration(`options.${name} must be true or false.`);
    }
  }
  if (options.importProvider !== undefined && typeof options.importProvider !== "function") {
    throw invalidConfiguration("options.importProvider must be a function.");
  }
}

function detect(options: DetectAssertionOptions): { detection: Detection; chosen?: Candidate } {
  checkOptions(options);
  const env = options.env ?? process.env;
  const all = candidates(env, options);
  const presentOnes = all.filter((candidate) => candidate.evidence !== undefined);
  const [chosen, ...others] = presentOnes;
  if (chosen === undefined) {
    const notes = hints(env, options);
    return {
      detection: {
        source: undefined,
        packageName: undefined,
        reason: `No assertion source detected: checked ${CHECKED}; an Azure VM needs options.imds, a GCE VM or GKE options.gcpMetadata${notes.length > 0 ? `. Also: ${notes.join("; ")}` : ""}.`,
        seen: [],
      },
    };
  }
  const also =
    others.length === 0
      ? ""
      : `; also seen, lower in precedence: ${others.map((other) => `${other.source} (${other.evidence})`).join(", ")}`;
  return {
    detection: {
      source: chosen.source,
      packageName: chosen.packageName,
      reason: `${chosen.source}: ${chosen.evidence}${also}`,
      seen: presentOnes.map((candidate) => candidate.source),
    },
    chosen,
  };
}

/**
 * What {@link detectAssertion} would pick in an environment, without loading anything or
 * sending any request: the source, its package and the one-line reason. `fedcred doctor`
 * prints it.
 *
 * @param options - As for {@link detectAssertion}; `env` defaults to `process.env`.
 * @returns A {@link Detection}; `source` is `undefined` when nothing is present, and `reason`
 *   then lists what was checked.
 * @throws {@link CredentialUnavailableError} (`invalid_configuration`) for options it cannot use.
 *
 * @example
 * ```ts
 * import { describeDetection } from "@fedcred/core";
 *
 * describeDetection({ env: { AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token" } }).reason;
 * // token file: AZURE_FEDERATED_TOKEN_FILE is set (/var/run/secrets/azure/tokens/azure-identity-token)
 * ```
 */
export function describeDetection(options: DetectAssertionOptions = {}): Detection {
  return detect(options ?? {}).detection;
}

/** The module format of this build, set by the build (`tsdown.base.ts`). */
declare const __MODULE_FORMAT__: "esm" | "cjs";

function isModuleNotFound(error: unknown, packageName: string): boolean {
  const code = (error as { code?: unknown })?.code;
  const message = String((error as { message?: unknown })?.message ?? "");
  return (
    (code === "ERR_MODULE_NOT_FOUND" ||
      code === "MODULE_NOT_FOUND" ||
      /Cannot find (module|package)/.test(message)) &&
    message.includes(packageName)
  );
}

/**
 * A provider package, from `@fedcred/core`'s folder (npm's flat node_modules, pnpm's hoisting),
 * else from the working directory (a pnpm project that depends on the provider but not on core
 * directly, a workspace).
 */
async function importFromInstall(packageName: string): Promise<unknown> {
  try {
    // The CommonJS build requires the provider's CommonJS build, which requires this one: its
    // errors are then instances of the classes the application required (import() would load
    // the ES build, with the ES build of core and its own classes, and instanceof would fail).
    if (__MODULE_FORMAT__ === "cjs") return require(packageName);
    // A variable specifier: bundlers leave it alone.
    return await import(packageName);
  } catch (error) {
    if (!isModuleNotFound(error, packageName)) throw error;
  }
  const requireFromApp = createRequire(join(process.cwd(), "package.json"));
  let manifestPath: string;
  try {
    manifestPath = requireFromApp.resolve(`${packageName}/package.json`);
  } catch {
    return undefined;
  }
  if (__MODULE_FORMAT__ === "cjs") return requireFromApp(packageName);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    exports?: { ".": { import?: { default?: string } } };
    module?: string;
    main?: string;
  };
  const entry = manifest.exports?.["."]?.import?.default ?? manifest.module ?? manifest.main;
  if (entry === undefined) return undefined;
  return import(pathToFileURL(join(dirname(manifestPath), entry)).href);
}

async function loadSource(
  chosen: Candidate,
  reason: string,
  importProvider: DetectAssertionOptions["importProvider"],
): Promise<AssertionFunc> {
  const notInstalled = (cause?: unknown): CredentialUnavailableError =>
    new CredentialUnavailableError(
      `Detected ${reason.split(";", 1)[0]}, but ${chosen.packageName} is not installed: npm install ${chosen.packageName}`,
      "missing_configuration",
      cause === undefined ? undefined : { cause },
    );
  let loaded: unknown;
  try {
    loaded =
      importProvider !== undefined
        ? await importProvider(chosen.packageName)
        : await importFromInstall(chosen.packageName);
  } catch (error) {
    if (isModuleNotFound(error, chosen.packageName)) throw notInstalled(error);
    throw error;
  }
  const factory = (loaded as Record<string, unknown> | undefined)?.[chosen.factory];
  if (typeof factory !== "function") {
    if (loaded === undefined) throw notInstalled();
    throw new CredentialUnavailableError(
      `${chosen.packageName} has no ${chosen.factory} export: install a version that has it (npm install ${chosen.packageName}@latest).`,
      "missing_configuration",
    );
  }
  return (factory as (options: Record<string, unknown>) => AssertionFunc)(chosen.options());
}

/**
 * An assertion function that picks its source from the environment: the workload-identity token
 * file, GitHub Actions, Azure Pipelines, AWS credentials, the GCP metadata server or an Azure
 * managed identity, in that order of precedence when several are present. The environment is
 * read once, now, and the choice is logged once at info level with its one-line reason
 * (`GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set`),
 * which also stays on the function as `reason`, with `source` and `packageName`.
 *
 * | source | seen when | package, factory |
 * |---|---|---|
 * | token file | `AZURE_FEDERATED_TOKEN_FILE` | `@fedcred/file`, `fromFile({ path })` |
 * | GitHub Actions | `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` | `@fedcred/github-actions`, `fromGitHubActions({ audience, ... })` |
 * | Azure Pipelines | `SYSTEM_OIDCREQUESTURI` and a service connection id | `@fedcred/azure-pipelines`, `fromAzurePipelines(...)` |
 * | AWS | AWS credentials in the environment | `@fedcred/aws`, `fromAwsWebIdentityToken({ audience })` |
 * | GCP metadata | `GCE_METADATA_HOST`, `K_SERVICE`, `CLOUD_RUN_JOB`, `FUNCTION_TARGET`, `GAE_APPLICATION`, or `options.gcpMetadata` | `@fedcred/gcp`, `fromGcpMetadata(...)` |
 * | managed identity | `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, or `options.imds` | `@fedcred/managed-identity`, `fromManagedIdentity(...)` |
 *
 * Core depends on no provider: the chosen package is loaded with `import()` (`require()` in the
 * CommonJS build) on the first call, and its factory runs then (its own configuration errors surface on that call). Detection sends
 * no request: IMDS and a GCE VM's metadata server are used only when an option says so.
 *
 * @param options - {@link DetectAssertionOptions}: `env` to detect from, `audience`,
 *   `serviceConnectionId`, `managedIdentity`, `imds`, `gcpMetadata`, `importProvider`.
 * @returns A {@link DetectedAssertion}. Its calls reject with a `CredentialUnavailableError`
 *   (`missing_configuration`) when nothing was detected (listing what was checked, so a chain
 *   moves on), or when the chosen package is not installed (`npm install @fedcred/...`).
 * @throws {@link CredentialUnavailableError} (`invalid_configuration`) at once for options it cannot use.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential, detectAssertion } from "@fedcred/core";
 *
 * // The same code in AKS, in GitHub Actions, on AWS: install the provider of each platform.
 * const credential = new ClientAssertionCredential(
 *   process.env.AZURE_TENANT_ID!,
 *   process.env.AZURE_CLIENT_ID!,
 *   detectAssertion(),
 * );
 * ```
 */
export function detectAssertion(options: DetectAssertionOptions = {}): DetectedAssertion {
  options ??= {};
  const { detection, chosen } = detect(options);
  logger.info(`detectAssertion: ${detection.reason}`);
  let loading: Promise<AssertionFunc> | undefined;
  let source: AssertionFunc | undefined;

  const detected = (async (context: AssertionContext): Promise<string> => {
    if (chosen === undefined) {
      throw new CredentialUnavailableError(detection.reason, "missing_configuration");
    }
    if (source === undefined) {
      loading ??= loadSource(chosen, detection.reason, options.importProvider);
      try {
        source = await loading;
      } catch (error) {
        loading = undefined;
        throw error;
      }
    }
    return source(context);
  }) as AssertionFunc & {
    -readonly [key in "source" | "packageName" | "reason"]: DetectedAssertion[key];
  };
  detected.source = detection.source;
  detected.packageName = detection.packageName;
  detected.reason = detection.reason;
  detected.describeRefusal = (codes, claims) => source?.describeRefusal?.(codes, claims);
  return detected;
}
