#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type LabConfig, startLab } from "./lab.js";
import { LabConfigError, parseLabConfig } from "./lab-config.js";

declare const __PACKAGE_VERSION__: string;

const USAGE = `Usage: fedcred-emulator [--config lab.json] [--dir DIR] [--json]

Starts a federation lab on loopback (Entra ID, a protected resource, an OIDC issuer,
a Kubernetes API server and AWS STS), writes the token file, kubeconfig and CA file
into DIR (a temporary directory by default), prints the environment a program needs
as "export NAME=value" lines (or one JSON object with --json), and runs until
SIGINT or SIGTERM.

  --config FILE  a JSON lab configuration (tenantId, clientId, roles, resourceAudience,
                 kubernetes, aws, issuerSubject, accessTokenLifetimeSeconds, refreshInSeconds, apps)
  --dir DIR      where to write the files (kept on exit)
  --json         print the environment as JSON
  --version      the version
  --help         this text
`;

/** A mistake in the command line or the configuration: exit 2, and no stack trace. */
class UsageError extends Error {}

function parseArguments(): ReturnType<typeof parseOptions> {
  try {
    return parseOptions();
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. See fedcred-emulator --help.`);
  }
}

function parseOptions() {
  return parseArgs({
    options: {
      config: { type: "string" },
      dir: { type: "string" },
      json: { type: "boolean", default: false },
      version: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }).values;
}

async function readConfig(path: string): Promise<LabConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new UsageError(`${path}: cannot read the configuration: ${code ?? message}`);
  }
  return parseLabConfig(text, path);
}

function say(text: string): void {
  for (const line of text.split("\n")) process.stderr.write(`fedcred-emulator: ${line}\n`);
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

async function main(): Promise<void> {
  const values = parseArguments();
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`${__PACKAGE_VERSION__}\n`);
    return;
  }
  const config: LabConfig = values.config ? await readConfig(values.config) : {};
  if (values.dir) config.directory = values.dir;
  const lab = await startLab(config);

  // Listen before printing: whoever reads the environment may signal at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`fedcred-emulator: ${signal}, stopping\n`);
    lab.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`fedcred-emulator: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  if (values.json) {
    process.stdout.write(`${JSON.stringify(lab.env, null, 2)}\n`);
  } else {
    for (const [name, value] of Object.entries(lab.env)) {
      process.stdout.write(`export ${name}=${shellQuote(value)}\n`);
    }
  }
  process.stderr.write(
    `fedcred-emulator: Entra ${lab.entra.url}, resource ${lab.resource.url}, issuer ${lab.issuer.url}, ` +
      `Kubernetes ${lab.kubernetes.url}, STS ${lab.sts.url}. Stop with Ctrl-C.\n`,
  );
}

main().catch((error: unknown) => {
  const usage = error instanceof UsageError || error instanceof LabConfigError;
  say(error instanceof Error ? error.message : String(error));
  process.exit(usage ? 2 : 1);
});
