import { type CliStreams, type Command, createContext, writeLine } from "./context.js";
import { reportError } from "./report-error.js";
import { EXIT, UsageError } from "./usage-error.js";
import { VERSION } from "./version.js";

/** Each command's module, loaded when it runs: `inspect` never loads the AWS SDK or the emulator. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  token: async () => (await import("./commands/token.js")).token,
  inspect: async () => (await import("./commands/inspect.js")).inspect,
  doctor: async () => (await import("./commands/doctor.js")).doctor,
  demo: async () => (await import("./commands/demo.js")).demo,
};

const SUMMARIES: Record<string, string> = {
  token:
    "Get an access token with a client assertion from a token file, Kubernetes, AWS or a certificate",
  inspect: "Decode a JWT and explain it; compare it with a federated credential as Entra does",
  doctor: "Check a workload's environment step by step, and say what to fix",
  demo: "Run every provider end to end against a local emulated lab",
};

const HELP = `Usage: fedcred <command> [options]

Microsoft Entra ID tokens for workloads, without secrets: a token the platform
issues (a Kubernetes service-account token, an AWS STS web-identity token, a
certificate-signed JWT, a token file) is exchanged for an access token through
a federated identity credential. fedcred is the tool for when that does not work.

Commands:
${Object.entries(SUMMARIES)
  .map(([name, summary]) => `  ${name.padEnd(9)} ${summary}`)
  .join("\n")}

Options:
  -h, --help     Show this help; 'fedcred <command> --help' shows a command's
  -v, --version  Print the version

Every command takes --json. Exit codes: 0 success, 1 a request, check or
decode failed, 2 the command line is wrong.

Examples:
  fedcred demo
  fedcred token --source file --scope https://storage.azure.com/.default
  fedcred inspect "$AZURE_FEDERATED_TOKEN_FILE" --issuer "$ISSUER" --subject system:serviceaccount:prod:billing
  fedcred doctor --scope https://storage.azure.com/.default
`;

/**
 * Runs the `fedcred` command line and resolves to its exit code (0 success, 1 a request, check
 * or decode failed, 2 a wrong command line). It writes to the given streams (default: the
 * process's) and never calls `process.exit`.
 *
 * @example
 * ```ts
 * import { run } from "@fedcred/cli";
 *
 * const code = await run(["inspect", "/var/run/secrets/azure/tokens/azure-identity-token", "--json"]);
 * process.exitCode = code;
 * ```
 */
export async function run(
  args: readonly string[],
  streams: Partial<CliStreams> = {},
): Promise<number> {
  const context = createContext(streams, process.env);
  const [first, ...rest] = args;
  if (first === undefined || first === "-h" || first === "--help") {
    (first === undefined ? context.stderr : context.stdout).write(HELP);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === "-v" || first === "--version") {
    writeLine(context.stdout, VERSION);
    return EXIT.ok;
  }
  if (first === "help") {
    const [topic] = rest;
    return topic === undefined ? run(["--help"], streams) : run([topic, "--help"], streams);
  }
  const load = COMMANDS[first];
  if (load === undefined) {
    reportError(
      new UsageError(
        first.startsWith("-")
          ? `Unknown option '${first}': options go after the command.`
          : `Unknown command '${first}'. Commands: ${Object.keys(COMMANDS).join(", ")}.`,
      ),
      "fedcred",
      context,
      false,
    );
    return EXIT.usage;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    context.stdout.write(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, context);
  } catch (error) {
    reportError(error, `fedcred ${command.name}`, context, rest.includes("--json"));
    return error instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}
