import { randomBytes, timingSafeEqual } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { Agent } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  type AccessToken,
  type AssertionFunc,
  ClientAssertionCredential,
  createTransport,
  decodeJwtPayload,
  detectAssertion,
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
resource, a Kubernetes API server with a projected token volume, AWS STS, an
OIDC issuer, a GitHub Actions token service, an Azure Pipelines OIDC endpoint,
a GCP metadata server and Azure IMDS, all on 127.0.0.1 with their own CA) and
gets an access token with every provider, end to end:

  file              fromFile: an OIDC issuer's token on disk
  kubernetes        fromServiceAccountToken: the Kubernetes TokenRequest API
  projected         fromProjectedServiceAccountToken: the kubelet-style volume,
                    rotated between two token requests (the second sends the
                    new token)
  aws               fromAwsWebIdentityToken: AWS STS GetWebIdentityToken
  certificate       fromCertificate: a JWT signed with the app's certificate
  github-actions    fromGitHubActions: the job's ID-token service (and what
                    detectAssertion() picks with the job's two variables)
  azure-pipelines   fromAzurePipelines: a service connection's OIDC token
  gcp               fromGcpMetadata: the metadata server's identity token
  managed-identity  fromManagedIdentity: IMDS's token of a user-assigned
                    identity in another tenant
  url               fromUrl: a token served by a loopback endpoint the demo
                    starts (a key header required)
  exec              fromExec: node runs a small script that prints the
                    executable-sourced JSON (the demo sets
                    FEDCRED_ALLOW_EXECUTABLES=1 for that token request only)

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

/** The lab's CA, for providers that take transport options (Node read NODE_EXTRA_CA_CERTS before the lab existed). */
function labTransport(lab: Lab): { tlsOptions: { ca: string } } {
  return { tlsOptions: { ca: lab.tlsAuthority.caCertificate } };
}

/**
 * A loopback token endpoint for `fromUrl`: `GET /token` with the right `x-token-key` answers
 * `{ "value": "<jwt>" }`, minted by the lab's OIDC issuer; anything else 401 or 404.
 */
async function startTokenEndpoint(
  lab: Lab,
): Promise<{ url: string; key: string; served: () => number; close(): Promise<void> }> {
  const key = randomBytes(18).toString("base64url");
  let served = 0;
  const server = createServer((request, response) => {
    const given = Buffer.from(String(request.headers["x-token-key"] ?? ""));
    const expected = Buffer.from(key);
    if (request.method !== "GET" || request.url !== "/token") {
      response.writeHead(404).end();
    } else if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      response.writeHead(401, { "content-type": "application/json" });
      response.end('{"error":"a wrong or missing x-token-key"}');
    } else {
      lab.issuer
        .mint({ subject: lab.subjects.issuer, audience: EXCHANGE_AUDIENCE })
        .then((token) => {
          served += 1;
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ value: token }));
        })
        .catch(() => response.writeHead(500).end());
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    key,
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The program `exec` runs (`node -e`): prints the token file named by its argument as AIP-4117's JSON. */
const EXEC_SCRIPT = `const token = require("node:fs").readFileSync(process.argv[1], "utf8").trim();
const { exp } = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
process.stdout.write(JSON.stringify({ version: 1, success: true,
  token_type: "urn:ietf:params:oauth:token-type:jwt", id_token: token, expiration_time: exp }));`;

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
  {
    name: "github-actions",
    source: "fromGitHubActions: the job's ID-token service",
    async run(lab, credential, scope, sent) {
      const { fromGitHubActions } = await import("@fedcred/github-actions");
      const env = lab.githubActions.env();
      // What detection makes of a job's environment (it only reads it: no request, no import).
      const detected = detectAssertion({ env });
      const source = fromGitHubActions({
        idTokenRequestUrl: env.ACTIONS_ID_TOKEN_REQUEST_URL,
        idTokenRequestToken: env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
        transportOptions: labTransport(lab),
      });
      const result = await single(credential(recording(source, sent)), scope);
      return {
        ...result,
        note: `detectAssertion({ env }) with the job's two variables picks ${detected.packageName ?? "nothing"}: ${detected.reason}`,
      };
    },
  },
  {
    name: "azure-pipelines",
    source: "fromAzurePipelines: a service connection's OIDC token",
    async run(lab, credential, scope, sent) {
      const { fromAzurePipelines } = await import("@fedcred/azure-pipelines");
      const source = fromAzurePipelines({
        serviceConnectionId: lab.serviceConnection.id,
        systemAccessToken: lab.azurePipelines.systemAccessToken,
        oidcRequestUri: lab.azurePipelines.oidcRequestUri,
        transportOptions: labTransport(lab),
      });
      return single(credential(recording(source, sent)), scope);
    },
  },
  {
    name: "gcp",
    source: "fromGcpMetadata: the metadata server's identity token",
    async run(lab, credential, scope, sent) {
      const { fromGcpMetadata } = await import("@fedcred/gcp");
      const source = fromGcpMetadata({ metadataHost: lab.gcpMetadata.host });
      return single(credential(recording(source, sent)), scope);
    },
  },
  {
    name: "managed-identity",
    source: "fromManagedIdentity: IMDS, a user-assigned identity of another tenant",
    async run(lab, credential, scope, sent) {
      const { fromManagedIdentity } = await import("@fedcred/managed-identity");
      const source = fromManagedIdentity({
        clientId: lab.managedIdentity.clientId,
        endpoint: lab.imds.imdsEndpoint,
      });
      const result = await single(credential(recording(source, sent)), scope);
      return {
        ...result,
        note: `the identity's home tenant ${lab.imds.tenantId}, the app's ${lab.tenantId}`,
      };
    },
  },
  {
    name: "url",
    source: "fromUrl: a loopback token endpoint started by the demo",
    async run(lab, credential, scope, sent) {
      const { fromUrl } = await import("@fedcred/url");
      const endpoint = await startTokenEndpoint(lab);
      try {
        const source = fromUrl({
          url: endpoint.url,
          headers: { "x-token-key": endpoint.key },
          format: "json",
          field: "value",
        });
        const result = await single(credential(recording(source, sent)), scope);
        return {
          ...result,
          note: `GET ${endpoint.url} with an x-token-key header, answered { "value": <the lab issuer's JWT> } ${endpoint.served()} time(s)`,
        };
      } finally {
        await endpoint.close();
      }
    },
  },
  {
    name: "exec",
    source: "fromExec: node prints the executable-sourced JSON",
    async run(lab, credential, scope, sent) {
      const { fromExec, FEDCRED_ALLOW_EXECUTABLES } = await import("@fedcred/exec");
      const path = join(lab.directory, "exec-token.jwt");
      await writeFile(
        path,
        await lab.issuer.mint({ subject: lab.subjects.issuer, audience: EXCHANGE_AUDIENCE }),
        { mode: 0o600 },
      );
      const source = fromExec({ command: process.execPath, args: ["-e", EXEC_SCRIPT, path] });
      // fromExec reads the opt-in from this process's environment when it fetches: set it for
      // this one token request, then put back what was there.
      const before = process.env[FEDCRED_ALLOW_EXECUTABLES];
      process.env[FEDCRED_ALLOW_EXECUTABLES] = "1";
      try {
        const result = await single(credential(recording(source, sent)), scope);
        return {
          ...result,
          note: `ran ${process.execPath} -e <a script printing the token file as AIP-4117 JSON>; the demo set ${FEDCRED_ALLOW_EXECUTABLES}=1 for this token request only`,
        };
      } finally {
        if (before === undefined) delete process.env[FEDCRED_ALLOW_EXECUTABLES];
        else process.env[FEDCRED_ALLOW_EXECUTABLES] = before;
      }
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
      "starting the lab: Entra ID, protected resource, Kubernetes API, AWS STS, OIDC issuer, GitHub Actions, Azure Pipelines, GCP metadata, IMDS",
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
