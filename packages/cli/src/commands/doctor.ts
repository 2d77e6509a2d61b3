import { COMMON_OPTIONS, parseCommandLine } from "../args.js";
import { type Command, type CommandContext, writeLine } from "../context.js";
import { type Check, runChecks } from "../doctor/checks.js";
import { EXIT, UsageError } from "../usage-error.js";

const HELP = `Usage: fedcred doctor [--scope SCOPE] [--timeout SECONDS] [--json]

Checks a workload-identity environment step by step, as the workload sees it,
and says what to fix:

  0. the assertion source detectAssertion() picks from the environment (token
     file, GitHub Actions, Azure Pipelines, AWS, GCP, managed identity), why,
     and whether its package is installed
  1. AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE are set and
     valid (when step 0 found another platform's source, unset ones are only
     noted); AZURE_AUTHORITY_HOST (optional) is a valid authority
  2. the token file exists (a projected volume's symlinks resolve), is
     readable, holds one JWT, is fresh (not expired, not future-dated), has the
     audience api://AzureADTokenExchange, is RS256, lives at most 1 day 1 hour;
     its issuer and subject (what the app's federated credential must name)
  3. a proxy from the environment (HTTPS_PROXY, ALL_PROXY, HTTP_PROXY,
     NO_PROXY), the way token requests will use it
  4. the authority answers its OpenID configuration for the tenant
  5. AKS identity bindings, when AZURE_KUBERNETES_TOKEN_PROXY,
     AZURE_KUBERNETES_SNI_NAME, AZURE_KUBERNETES_CA_FILE or _CA_DATA are set: the
     settings, and a TLS handshake with the token proxy by its server name and CA
  6. with --scope: a real token request, as workloadIdentityCredential sends it
     (through the identity-binding proxy when its variables are set)

Each network check gives up after --timeout seconds; nothing is retried. No
token is printed. Exit code: 0 when every check passed, 1 when one failed.

Options:
  --scope SCOPE        Also request a token for SCOPE, such as https://storage.azure.com/.default
  --timeout SECONDS    Per network check (default 5)
  --json               Print an array of {check, ok, detail, fix} (fix is null when
                       there is nothing to do)
  -h, --help           Show this help

Examples:
  kubectl exec -it deploy/billing -- npx @fedcred/cli doctor
  fedcred doctor --scope https://storage.azure.com/.default
  fedcred doctor --json | jq '.[] | select(.ok == false)'
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  scope: { type: "string" },
  timeout: { type: "string" },
} as const;

function printCheck(check: Check, context: CommandContext, width: number): void {
  const { stdout, out } = context;
  let mark = out.green("✓");
  if (!check.ok) mark = out.red("✗");
  else if (check.fix !== null) mark = out.yellow("!");
  writeLine(stdout, `${mark} ${out.bold(check.check.padEnd(width))}  ${check.detail}`);
  if (check.fix !== null)
    writeLine(stdout, `  ${" ".repeat(width)}  ${out.dim(`fix: ${check.fix}`)}`);
}

/** `fedcred doctor`: the workload's environment, checked step by step. */
export const doctor: Command = {
  name: "doctor",
  help: HELP,
  async run(args, context) {
    const { values } = parseCommandLine(args, OPTIONS);
    const timeoutSeconds = values.timeout === undefined ? 5 : Number(values.timeout);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 300) {
      throw new UsageError(
        `--timeout must be a number of seconds above 0 and at most 300, got ${JSON.stringify(values.timeout)}.`,
      );
    }
    const checks: Check[] = [];
    await runChecks(
      { env: context.env, scope: values.scope, timeoutInMs: Math.round(timeoutSeconds * 1000) },
      (check) => {
        checks.push(check);
        if (!values.json) printCheck(check, context, 26);
      },
    );
    const failed = checks.filter((check) => !check.ok).length;
    if (values.json) {
      writeLine(context.stdout, JSON.stringify(checks, null, 2));
    } else {
      writeLine(context.stdout);
      writeLine(
        context.stdout,
        failed === 0
          ? context.out.green(`All ${checks.length} checks passed.`)
          : context.out.red(`${failed} of ${checks.length} checks failed.`),
      );
    }
    return failed === 0 ? EXIT.ok : EXIT.failed;
  },
};
