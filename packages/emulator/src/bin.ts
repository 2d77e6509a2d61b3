#!/usr/bin/env node
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatEnvironment, removeEnvFileSync, writeEnvFile } from "./env-file.js";
import { type Lab, type LabConfig, startLab } from "./lab.js";
import { LabConfigError, parseLabConfig } from "./lab-config.js";
import { watchParent } from "./parent-watch.js";

declare const __PACKAGE_VERSION__: string;

const USAGE = `Usage: fedcred-emulator [--config lab.json] [--dir DIR] [--write-env FILE] [--json]

Starts a federation lab on loopback (Entra ID, a protected resource, an OIDC issuer,
a Kubernetes API server and AWS STS), writes the token file, kubeconfig and CA file
into DIR (a temporary directory by default), prints the environment a program needs
as "export NAME=value" lines (or one JSON object with --json), and runs until
SIGINT, SIGTERM or SIGHUP, or until the process that started it exits.

  --config FILE    a JSON lab configuration (tenantId, clientId, roles, resourceAudience,
                   kubernetes, aws, issuerSubject, accessTokenLifetimeSeconds,
                   refreshInSeconds, apps, directory)
  --dir DIR        where to write the files (kept on exit)
  --write-env FILE also write the environment to FILE, atomically, once every server
                   listens (scripts wait for it to exist); removed on exit
  --json           print the environment as JSON
  --ignore-parent  keep running after the process that started it exits
  --version        the version
  --help           this text
`;

/** A mistake in the command line or the configuration: exit 2, and no stack trace. */
class UsageError extends Error {}

function parseArguments(): ReturnType<typeof parseOptions> {
  if (process.argv.slice(2).some((argument) => /^--env-file(=|$)/.test(argument))) {
    throw new UsageError(
      "--env-file is Node's own option, which Node reads even after a script's name (it stops " +
        'with "node: FILE: not found" when the file does not exist yet): use --write-env FILE.',
    );
  }
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
      "write-env": { type: "string" },
      json: { type: "boolean", default: false },
      "ignore-parent": { type: "boolean", default: false },
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

/** Fails before anything starts when the environment file could never be written. */
function checkEnvFilePath(path: string): void {
  const folder = dirname(resolve(path));
  if (!statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--write-env ${path}: the folder ${folder} does not exist`);
  }
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--write-env ${path}: that is a folder`);
  }
}

function say(text: string): void {
  for (const line of text.split("\n")) process.stderr.write(`fedcred-emulator: ${line}\n`);
}

async function main(): Promise<void> {
  // The parent as this process first saw it, before the folder a parent may wait for exists: a
  // parent killed in between must still be seen as gone, not replaced by init or a subreaper.
  const startedBy = process.ppid;
  // A reader that went away (a closed pipe) must not turn the shutdown into a crash.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});

  const options = parseArguments();
  if (options.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (options.version) {
    process.stdout.write(`${__PACKAGE_VERSION__}\n`);
    return;
  }
  const config = options.config ? await readConfig(options.config) : {};
  const envFilePath = options["write-env"];
  if (envFilePath !== undefined) checkEnvFilePath(envFilePath);

  // The bin makes the temporary folder itself, so that every way out, a failed start included,
  // removes it: the exit handler runs on process.exit and after the last event.
  const directory = options.dir ?? config.directory;
  const ownedDirectory =
    directory === undefined ? mkdtempSync(join(tmpdir(), "fedcred-lab-")) : undefined;
  config.directory = directory ?? ownedDirectory;
  let envFile: { path: string; text: string } | undefined;
  process.on("exit", () => {
    if (envFile) removeEnvFileSync(envFile.path, envFile.text);
    if (ownedDirectory) rmSync(ownedDirectory, { recursive: true, force: true });
  });

  let lab: Lab | undefined;
  let stopping = false;
  const closeAndExit = (running: Lab): void => {
    setTimeout(() => {
      say("servers still closing after 10 s, exiting anyway");
      process.exit(1);
    }, 10_000).unref();
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        say(String(error));
        process.exit(1);
      },
    );
  };
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    stopWatching();
    say(`${reason}, stopping`);
    // Still starting: the lab is closed as soon as it is up.
    if (lab) closeAndExit(lab);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, stop);
  const stopWatching = options["ignore-parent"]
    ? () => {}
    : watchParent(stop, undefined, startedBy);

  lab = await startLab(config);
  if (stopping) {
    closeAndExit(lab);
    return;
  }
  const text = formatEnvironment(lab.env, options.json);
  if (envFilePath !== undefined) {
    envFile = { path: envFilePath, text };
    await writeEnvFile(envFilePath, text);
  }
  process.stdout.write(text);
  say(
    `Entra ${lab.entra.url}, resource ${lab.resource.url}, issuer ${lab.issuer.url}, ` +
      `Kubernetes ${lab.kubernetes.url}, STS ${lab.sts.url}` +
      `${envFilePath === undefined ? "" : `, environment in ${envFilePath}`}. Stop with Ctrl-C.`,
  );
}

main().catch((error: unknown) => {
  const usage = error instanceof UsageError || error instanceof LabConfigError;
  say(error instanceof Error ? error.message : String(error));
  process.exit(usage ? 2 : 1);
});
