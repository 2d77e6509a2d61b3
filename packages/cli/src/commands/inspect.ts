import { COMMON_OPTIONS, parseCommandLine } from "../args.js";
import { type Command, type CommandContext, writeLine } from "../context.js";
import { EXCHANGE_AUDIENCE } from "../entra-rules.js";
import { compareWithFic, type FicComparison } from "../fic-match.js";
import {
  classify,
  describeKind,
  type Finding,
  findingsFor,
  type JwtKind,
  lifetimeOf,
} from "../findings.js";
import { type DecodedJwt, decodeJwt, extractToken } from "../jwt.js";
import { readTokenInput } from "../read-token.js";
import type { Style } from "../style.js";
import { formatDuration, formatEpoch, formatRelative } from "../time.js";
import { EXIT } from "../usage-error.js";

const HELP = `Usage: fedcred inspect [FILE | -] [--issuer ISSUER] [--subject SUBJECT] [--audience AUDIENCE] [--json]

Decodes a JWT (a client assertion or an access token) and explains it: header,
claims, times relative to now, and what Entra ID would refuse. The signature is
not verified and never printed.

FILE is a file holding the token; - reads stdin; without either,
AZURE_FEDERATED_TOKEN_FILE is read. The text may be a bare JWT, "Bearer <jwt>",
or the JSON of 'fedcred token' / 'az account get-access-token'.

It warns about:
  - an expired or not yet valid token (AADSTS700024)
  - an audience other than ${EXCHANGE_AUDIENCE} (AADSTS700212), and the
    api://AKSIdentityBinding audience of AKS identity bindings (use the token proxy)
  - an algorithm other than RS256 (AADSTS5002730)
  - a lifetime over 1 day 1 hour (AADSTS70023)
  - a typ other than JWT (AADSTS5002727); a missing typ is noted (Entra accepts it)
  - for certificate assertions: aud not a token endpoint (AADSTS700023), iss/sub
    not the client id (AADSTS700021), no jti

With --issuer, --subject or --audience it compares the token with a federated
identity credential as Entra does: exactly and case-sensitively, issuer first
(AADSTS700211), then audience (AADSTS700212), then subject (AADSTS700213, or
AADSTS7002138 when only the letter case differs), and says which field fails.

Options:
  --issuer ISSUER      The FIC's issuer
  --subject SUBJECT    The FIC's subject
  --audience AUDIENCE  The FIC's audience (usually ${EXCHANGE_AUDIENCE})
  --json               Print one JSON object: kind, header, claims, times, findings, fic, ok
  -h, --help           Show this help

Exit code: 0 when Entra would accept what was checked, 1 when a finding is an
error or a FIC field does not match (or the input is not a JWT), 2 for usage.

Examples:
  fedcred inspect /var/run/secrets/azure/tokens/azure-identity-token
  fedcred inspect --issuer "$(az aks show -g RG -n CLUSTER --query oidcIssuerProfile.issuerUrl -o tsv)" \\
      --subject system:serviceaccount:prod:billing --audience ${EXCHANGE_AUDIENCE}
  fedcred token --source file --scope https://storage.azure.com/.default | fedcred inspect -
  kubectl create token billing -n prod --audience ${EXCHANGE_AUDIENCE} | fedcred inspect - --json
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  issuer: { type: "string" },
  subject: { type: "string" },
  audience: { type: "string" },
} as const;

const TIME_CLAIMS = ["exp", "nbf", "iat", "auth_time"];
/** Shown first, in this order; the other claims follow as the token has them. */
const LEADING_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

function ordered(claims: Record<string, unknown>): [string, unknown][] {
  const leading = LEADING_CLAIMS.filter((name) => name in claims);
  const rest = Object.keys(claims).filter((name) => !LEADING_CLAIMS.includes(name));
  return [...leading, ...rest].map((name) => [name, claims[name]]);
}

/** What `fedcred inspect --json` prints (with `source` first). */
export interface Report {
  kind: JwtKind;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  times: Record<string, { epoch: number; utc: string; relative: string }>;
  lifetimeSeconds: number | null;
  findings: Finding[];
  fic?: FicComparison;
  ok: boolean;
}

function buildReport(
  jwt: DecodedJwt,
  fic: Parameters<typeof compareWithFic>[1] | undefined,
): Report {
  const now = Date.now() / 1000;
  const kind = classify(jwt);
  const findings = findingsFor(jwt, kind, now);
  const times: Report["times"] = {};
  for (const name of TIME_CLAIMS) {
    const value = jwt.claims[name];
    if (typeof value === "number") {
      times[name] = { epoch: value, utc: formatEpoch(value), relative: formatRelative(value, now) };
    }
  }
  const comparison = fic === undefined ? undefined : compareWithFic(jwt.claims, fic);
  const ok = !findings.some((finding) => finding.level === "error") && (comparison?.match ?? true);
  return {
    kind,
    header: jwt.header,
    claims: jwt.claims,
    times,
    lifetimeSeconds: lifetimeOf(jwt.claims) ?? null,
    findings,
    ...(comparison === undefined ? {} : { fic: comparison }),
    ok,
  };
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function section(context: CommandContext, title: string, rows: [string, string][]): void {
  const { stdout, out } = context;
  writeLine(stdout, out.bold(title));
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) writeLine(stdout, `  ${out.cyan(key.padEnd(width))}  ${value}`);
}

function marker(level: Finding["level"], style: Style): string {
  if (level === "error") return style.red("✗ error  ");
  if (level === "warning") return style.yellow("! warning");
  return style.dim("· note   ");
}

function printReport(report: Report, origin: string, context: CommandContext): void {
  const { stdout, out } = context;
  writeLine(stdout, `${out.bold(describeKind(report.kind))} ${out.dim(`(from ${origin})`)}`);
  writeLine(stdout);
  section(
    context,
    "Header",
    Object.entries(report.header).map(([key, value]) => [key, show(value)]),
  );
  if (report.kind !== "certificate-assertion" && report.header.typ === undefined) {
    writeLine(stdout, `  ${out.dim("(no typ)")}`);
  }
  writeLine(stdout);
  section(
    context,
    "Claims",
    ordered(report.claims).map(([key, value]) => {
      const time = report.times[key];
      return [key, time === undefined ? show(value) : `${time.utc} (${time.relative})`];
    }),
  );
  if (report.lifetimeSeconds !== null) {
    writeLine(stdout, `  ${out.dim(`lifetime ${formatDuration(report.lifetimeSeconds)}`)}`);
  }
  writeLine(stdout);
  writeLine(stdout, out.bold("Findings"));
  if (report.findings.length === 0)
    writeLine(stdout, `  ${out.green("✓")} nothing Entra would refuse`);
  for (const finding of report.findings) {
    writeLine(stdout, `  ${marker(finding.level, out)}  ${finding.message}`);
  }
  if (report.fic !== undefined) {
    writeLine(stdout);
    writeLine(
      stdout,
      `${out.bold("Federated identity credential")} ${out.dim("(Entra matches issuer, then audience, then subject: exactly, case-sensitively)")}`,
    );
    for (const field of report.fic.fields) {
      const name = field.field.padEnd(8);
      if (field.match) {
        writeLine(stdout, `  ${out.green("✓")} ${name}  ${field.expected}`);
        continue;
      }
      const reason = field.reason === undefined ? "" : `: ${field.reason}`;
      writeLine(
        stdout,
        `  ${out.red("✗")} ${name}  the FIC has ${JSON.stringify(field.expected)}, the token ${JSON.stringify(field.actual)}${reason} (AADSTS${field.aadsts})`,
      );
    }
    writeLine(
      stdout,
      report.fic.match
        ? `  ${out.green("Entra would match this federated credential.")}`
        : `  ${out.red(`Entra would refuse the token with AADSTS${report.fic.aadsts}.`)}`,
    );
  }
}

/** `fedcred inspect`: a JWT decoded and explained, and compared with a FIC. */
export const inspect: Command = {
  name: "inspect",
  help: HELP,
  async run(args, context) {
    const { values, positionals } = parseCommandLine(args, OPTIONS, 1);
    const input = await readTokenInput(positionals[0], context.stdin, context.env);
    const jwt = decodeJwt(extractToken(input.text));
    const { issuer, subject, audience } = values;
    const fic =
      issuer === undefined && subject === undefined && audience === undefined
        ? undefined
        : { issuer, subject, audience };
    const report = buildReport(jwt, fic);
    if (values.json) {
      writeLine(context.stdout, JSON.stringify({ source: input.origin, ...report }, null, 2));
    } else {
      printReport(report, input.origin, context);
    }
    return report.ok ? EXIT.ok : EXIT.failed;
  },
};
