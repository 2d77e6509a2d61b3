import { writeFile } from "node:fs/promises";
import { Agent } from "node:https";
import { join } from "node:path";
import {
  type AccessToken,
  type AssertionFunc,
  ClientAssertionCredential,
  createTransport,
  decodeJwtPayload,
} from "@fedcred/core";
import type { Lab } from "@fedcred/emulator";
import { COMMON_OPTIONS, parseCommandLine } from "../args.js";
import { type Command, type CommandContext, writeLine } from "../context.js";
import { EXCHANGE_AUDIENCE } from "../entra-rules.js";
import { createProgress } from "../progress.js";
import { quietAwsSdkOnNode20 } from "../sources.js";
import { renderTable } from "../table.js";
import { formatDuration, formatElapsed } from "../time.js";
import { EXIT } from "../usage-error.js";

const HELP = `Usage: fedcred demo [--json]

Starts the emulator's federation lab in this process (Entra ID, a protected
resource, a Kubernetes API server with a projected token volume, AWS STS and an
OIDC issuer, all on 127.0.0.1 with their own CA) and gets an access token with
every provider, end to end:

  file         fromFile: an OIDC issuer's token on disk
  kubernetes   fromServiceAccountToken: the Kubernetes TokenRequest API
  projected    fromProjectedServiceAccountToken: the kubelet-style volume, rotated
               between two token requests (the second sends the new token)
  aws          fromAwsWebIdentityToken: AWS STS GetWebIdentityToken
  certificate  fromCertificate: a JWT signed with the app's certificate

Then it calls the protected resource with each token and prints a table:
provider, assertion issuer and subject, access-token audience, expiry, time
taken, and the resource's answer. Progress goes to stderr, the table to
stdout. Nothing leaves the machine, no token is printed, and the lab is closed
before it exits: 0 when every row worked, 1 otherwise.

Options:
  --json       Print the rows as JSON instead of the table
  -h, --help   Show this help

Examples:
  fedcred demo
  pnpm demo                  (from the fedcred repository: builds, then runs this)
  fedcred demo --json | jq '.rows[] | {provider, ok}'
`;

/** One provider's run, as the table and `--json` show it. */
interface DemoRow {
  provider: string;
  /** The provider function and what it read. */
  source: string;
  ok: boolean;
  assertionIssuer: string | null;
  assertionSubject: string | null;
  /** The access token's `aud`. */
  audience: string | null;
  expiresOnTimestamp: number | null;
  /** The token request(s), assertion included. */
  durationMs: number;
  /** What the protected resource answered to the token. */
  resourceStatus: number | null;
  note: string | null;
  error: string | null;
}

interface Attempt {
  row: DemoRow;
  token?: AccessToken;
}

/** Wraps a source to keep the assertions it hands out (to show their iss/sub; never printed). */
function recording(source: AssertionFunc, sent: string[]): AssertionFunc {
  const wrapped: AssertionFunc = async (context) => {
    const assertion = await source(context);
    sent.push(assertion);
    return assertion;
  };
  wrapped.describeRefusal = source.describeRefusal;
  return wrapped;
}

interface Provider {
  name: string;
  source: string;
  /** Gets the row's token through `credential(assertion)`; returns a note for the table. */
  run(
    lab: Lab,
    credential: (assertion: AssertionFunc) => ClientAssertionCredential,
    scope: string,
    sent: string[],
  ): Promise<{ token: AccessToken; note?: string }>;
}

async function single(
  credential: ClientAssertionCredential,
  scope: string,
): Promise<{ token: AccessToken }> {
  try {
    return { token: await credential.getToken(scope) };
  } finally {
    await credential.close();
  }
}

function shortId(value: unknown): string {
  return typeof value === "string" ? `${value.slice(0, 8)}…` : "(none)";
}

const PROVIDERS: Provider[] = [
  {
    name: "file",
    source: "fromFile: an OIDC issuer's token on disk",
    async run(lab, credential, scope, sent) {
      const path = join(lab.directory, "oidc-token.jwt");
      await writeFile(
        path,
        await lab.issuer.mint({ subject: lab.subjects.issuer, audience: EXCHANGE_AUDIENCE }),
        { mode: 0o600 },
      );
      const { fromFile } = await import("@fedcred/file");
      return single(credential(recording(fromFile({ path }), sent)), scope);
    },
  },
  {
    name: "kubernetes",
    source: "fromServiceAccountToken: the TokenRequest API",
    async run(lab, credential, scope, sent) {
      const [{ fromServiceAccountToken }, { KubeConfig }] = await Promise.all([
        import("@fedcred/kubernetes"),
        import("@kubernetes/client-node"),
      ]);
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(lab.env.KUBECONFIG);
      const [namespace, serviceAccount] = lab.subjects.kubernetes.split(":").slice(2) as [
        string,
        string,
      ];
      return single(
        credential(
          recording(fromServiceAccountToken({ serviceAccount, namespace, kubeConfig }), sent),
        ),
        scope,
      );
    },
  },
  {
    name: "projected",
    source: "fromProjectedServiceAccountToken: the kubelet's volume, rotated",
    async run(lab, credential, scope, sent) {
      const { fromProjectedServiceAccountToken } = await import("@fedcred/kubernetes");
      // One source, read per token request: a request, the kubelet's rotation, another request.
      const source = recording(
        fromProjectedServiceAccountToken({ path: lab.tokenVolume.path }),
        sent,
      );
      await single(credential(source), scope);
      const before = lab.tokenVolume.token;
      await lab.tokenVolume.rotate();
      const after = lab.tokenVolume.token;
      const result = await single(credential(source), scope);
      if (sent.length !== 2 || sent[0] !== before || sent[1] !== after || before === after) {
        throw new Error("the second token request did not send the rotated token");
      }
      const jti = (token: string): string => shortId(decodeJwtPayload(token).jti);
      return {
        ...result,
        note: `rotated between two token requests: the second sent the new token (jti ${jti(before)} then ${jti(after)})`,
      };
    },
  },
  {
    name: "aws",
    source: "fromAwsWebIdentityToken: STS GetWebIdentityToken",
    async run(lab, credential, scope, sent) {
      const { fromAwsWebIdentityToken } = await import("@fedcred/aws");
      const source = fromAwsWebIdentityToken({
        clientConfig: {
          endpoint: lab.env.AWS_ENDPOINT_URL_STS,
          region: lab.env.AWS_REGION,
          credentials: {
            accessKeyId: lab.env.AWS_ACCESS_KEY_ID,
            secretAccessKey: lab.env.AWS_SECRET_ACCESS_KEY,
            sessionToken: lab.env.AWS_SESSION_TOKEN,
          },
          requestHandler: { httpsAgent: new Agent({ ca: lab.tlsAuthority.caCertificate }) },
        },
      });
      return single(credential(recording(source, sent)), scope);
    },
  },
  {
    name: "certificate",
    source: "fromCertificate: the app's certificate key signs the assertion",
    async run(lab, credential, scope, sent) {
      const { fromCertificate } = await import("@fedcred/certificate");
      const { certificatePem, privateKeyPem } = lab.certificate;
      return single(
        credential(
          recording(fromCertificate({ certificate: certificatePem + privateKeyPem }), sent),
        ),
        scope,
      );
    },
  },
];

function emptyRow(provider: Provider): DemoRow {
  return {
    provider: provider.name,
    source: provider.source,
    ok: false,
    assertionIssuer: null,
    assertionSubject: null,
    audience: null,
    expiresOnTimestamp: null,
    durationMs: 0,
    resourceStatus: null,
    note: null,
    error: null,
  };
}

/** One provider's token: never throws, a failure is the row's `error`. */
async function runProvider(provider: Provider, lab: Lab, scope: string): Promise<Attempt> {
  const sent: string[] = [];
  const credential = (assertion: AssertionFunc): ClientAssertionCredential =>
    new ClientAssertionCredential(lab.tenantId, lab.clientId, assertion, {
      authorityHost: lab.env.AZURE_AUTHORITY_HOST,
      // The lab's CA was made in this process, after Node read NODE_EXTRA_CA_CERTS.
      tlsOptions: { ca: lab.tlsAuthority.caCertificate },
      retryOptions: { maxRetries: 0 },
      requestTimeoutInMs: 10_000,
    });
  const row = emptyRow(provider);
  const started = performance.now();
  try {
    const { token, note } = await provider.run(lab, credential, scope, sent);
    row.durationMs = Math.round(performance.now() - started);
    const assertion = sent.at(-1);
    if (assertion !== undefined) {
      const claims = decodeJwtPayload(assertion);
      row.assertionIssuer = typeof claims.iss === "string" ? claims.iss : null;
      row.assertionSubject = typeof claims.sub === "string" ? claims.sub : null;
    }
    const aud = decodeJwtPayload(token.token).aud;
    row.audience = Array.isArray(aud) ? aud.join(", ") : (aud ?? null);
    row.expiresOnTimestamp = token.expiresOnTimestamp;
    row.note = note ?? null;
    return { row, token };
  } catch (error) {
    row.durationMs = Math.round(performance.now() - started);
    row.error = (error as Error).message;
    return { row };
  }
}

/** Sends each token to the protected resource; a row is ok only when the resource accepts its token. */
async function callResource(lab: Lab, attempts: Attempt[]): Promise<void> {
  const transport = createTransport({ tlsOptions: { ca: lab.tlsAuthority.caCertificate } });
  try {
    for (const attempt of attempts) {
      if (attempt.token === undefined) continue;
      const response = await transport.send({
        url: lab.resource.url,
        method: "GET",
        headers: { authorization: `Bearer ${attempt.token.token}` },
        timeoutInMs: 10_000,
        maxBodyBytes: 64 * 1024,
      });
      attempt.row.resourceStatus = response.status;
      attempt.row.ok = response.status === 200;
      if (!attempt.row.ok) attempt.row.error = `the protected resource answered ${response.status}`;
    }
  } finally {
    transport.close();
  }
}

function printTable(rows: DemoRow[], context: CommandContext): void {
  const { out, stdout } = context;
  const now = Date.now();
  const table = renderTable(
    ["provider", "assertion issuer / subject", "token audience", "expires in", "took", "resource"],
    rows.map((row) => [
      row.ok ? out.green(`✓ ${row.provider}`) : out.red(`✗ ${row.provider}`),
      `${row.assertionIssuer ?? "-"}\n${out.dim(row.assertionSubject ?? "-")}`,
      row.audience ?? "-",
      row.expiresOnTimestamp === null ? "-" : formatDuration((row.expiresOnTimestamp - now) / 1000),
      formatElapsed(row.durationMs),
      row.resourceStatus === null
        ? "-"
        : row.resourceStatus === 200
          ? out.green("200 OK")
          : out.red(String(row.resourceStatus)),
    ]),
  );
  writeLine(stdout, table);
  writeLine(stdout);
  for (const row of rows) {
    const text = row.error ?? row.note;
    if (text !== null)
      writeLine(stdout, `${out.bold(row.provider)}: ${row.error === null ? text : out.red(text)}`);
  }
}

/** `fedcred demo`: every provider, end to end, against a lab in this process. */
export const demo: Command = {
  name: "demo",
  help: HELP,
  async run(args, context) {
    const { values } = parseCommandLine(args, COMMON_OPTIONS);
    quietAwsSdkOnNode20();
    const progress = createProgress(context.stderr, context.err, "fedcred demo: ");
    const starting = progress.start(
      "starting the lab: Entra ID, protected resource, Kubernetes API, AWS STS, OIDC issuer",
    );
    let lab: Lab;
    try {
      const { startLab } = await import("@fedcred/emulator");
      lab = await startLab();
      starting.done();
    } catch (error) {
      starting.fail((error as Error).message);
      throw error;
    }
    const scope = lab.env.FEDCRED_RESOURCE_SCOPE;
    const attempts: Attempt[] = [];
    try {
      for (const provider of PROVIDERS) {
        const task = progress.start(`${provider.name}: ${provider.source}`);
        const attempt = await runProvider(provider, lab, scope);
        if (attempt.row.error === null) task.done();
        else task.fail(attempt.row.error);
        attempts.push(attempt);
      }
      const calling = progress.start(
        `calling the protected resource ${lab.resource.url} with each token`,
      );
      try {
        await callResource(lab, attempts);
        const refused = attempts.filter(
          (attempt) => attempt.token !== undefined && !attempt.row.ok,
        );
        if (refused.length === 0) calling.done();
        else calling.fail(`${refused.length} token(s) refused`);
      } catch (error) {
        calling.fail((error as Error).message);
        for (const attempt of attempts) attempt.row.ok = false;
      }
    } finally {
      await lab.close();
    }
    const rows = attempts.map((attempt) => attempt.row);
    const ok = rows.every((row) => row.ok);
    if (values.json) {
      writeLine(context.stdout, JSON.stringify({ ok, scope, rows }, null, 2));
    } else {
      printTable(rows, context);
      writeLine(context.stdout);
      writeLine(
        context.stdout,
        ok
          ? context.out.green(
              `All ${rows.length} providers got a token for ${scope} and the resource accepted each.`,
            )
          : context.out.red(
              `${rows.filter((row) => !row.ok).length} of ${rows.length} providers failed.`,
            ),
      );
    }
    return ok ? EXIT.ok : EXIT.failed;
  },
};
