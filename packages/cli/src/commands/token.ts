import { ClientAssertionCredential } from "@fedcred/core";
import { COMMON_OPTIONS, parseCommandLine } from "../args.js";
import { type Command, writeLine } from "../context.js";
import { assertionFor, parseSource, SOURCE_FORMS } from "../sources.js";
import { formatAzExpiresOn } from "../time.js";
import { EXIT, UsageError } from "../usage-error.js";

const HELP = `Usage: fedcred token --scope SCOPE --source SOURCE [options]

Gets a Microsoft Entra ID access token for SCOPE with a client assertion from
SOURCE, and prints it as JSON like 'az account get-access-token'.

Sources (${SOURCE_FORMS}):
  file[:PATH]           A token file, read as is. PATH defaults to AZURE_FEDERATED_TOKEN_FILE.
  projected[:PATH]      A projected Kubernetes service-account token (retried once while the
                        kubelet rotates it). PATH defaults to AZURE_FEDERATED_TOKEN_FILE.
  kubernetes:NAMESPACE/SERVICEACCOUNT
                        A token from the Kubernetes TokenRequest API, through the kubeconfig
                        (KUBECONFIG, ~/.kube/config, or the pod's in-cluster configuration).
                        kubernetes:SERVICEACCOUNT uses the kubeconfig context's namespace.
  aws                   A token from AWS STS GetWebIdentityToken: AWS_REGION, the SDK's
                        default credential chain, AWS_ENDPOINT_URL_STS when set.
  certificate[:PATH]    A JWT signed with the app's certificate: a PEM bundle or a .pfx.
                        PATH defaults to AZURE_CLIENT_CERTIFICATE_PATH; the password comes
                        from AZURE_CLIENT_CERTIFICATE_PASSWORD.

Options:
  --scope SCOPE           The scope, "{resource}/.default" (required)
  --source SOURCE         Where the client assertion comes from (required)
  --tenant-id ID          The tenant. Default: AZURE_TENANT_ID
  --client-id ID          The app (client) id. Default: AZURE_CLIENT_ID
  --authority-host URL    Default: AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com
  --raw                   Print only the access token
  --json                  Print JSON (the default)
  -h, --help              Show this help

Output (stdout):
  {"accessToken": "...", "expiresOn": "2026-01-31 14:05:09.000000", "expires_on": 1769868309,
   "tenant": "...", "tokenType": "Bearer"}
  expiresOn is local time, expires_on seconds since the epoch. Nothing else is
  printed on stdout; errors go to stderr, with what to fix, and exit 1.

Examples:
  fedcred token --source file --scope https://storage.azure.com/.default
  fedcred token --source kubernetes:prod/billing --scope https://vault.azure.net/.default
  fedcred token --source aws --tenant-id "$TENANT" --client-id "$APP" --scope https://management.azure.com/.default
  fedcred token --source certificate:/etc/billing/cert.pem --scope https://graph.microsoft.com/.default --raw
  curl -H "Authorization: Bearer $(fedcred token --source file --scope https://storage.azure.com/.default --raw)" ...
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  scope: { type: "string" },
  source: { type: "string" },
  "tenant-id": { type: "string" },
  "client-id": { type: "string" },
  "authority-host": { type: "string" },
  raw: { type: "boolean" },
} as const;

function required(value: string | undefined, option: string, variable?: string): string {
  if (value !== undefined && value.trim() !== "") return value;
  throw new UsageError(
    variable === undefined
      ? `${option} is required.`
      : `No ${option.slice(2).replace("-", " ")}: pass ${option} or set ${variable}.`,
  );
}

/** `fedcred token`: one access token, as `az account get-access-token` prints it. */
export const token: Command = {
  name: "token",
  help: HELP,
  async run(args, context) {
    const { values } = parseCommandLine(args, OPTIONS);
    if (values.raw && values.json) throw new UsageError("Pass --raw or --json, not both.");
    const scope = required(values.scope, "--scope");
    const source = parseSource(required(values.source, "--source"));
    const { env } = context;
    const tenantId = required(
      values["tenant-id"] ?? env.AZURE_TENANT_ID,
      "--tenant-id",
      "AZURE_TENANT_ID",
    );
    const clientId = required(
      values["client-id"] ?? env.AZURE_CLIENT_ID,
      "--client-id",
      "AZURE_CLIENT_ID",
    );
    const authorityHost = values["authority-host"] ?? env.AZURE_AUTHORITY_HOST;

    const credential = new ClientAssertionCredential(
      tenantId,
      clientId,
      await assertionFor(source),
      authorityHost === undefined || authorityHost === "" ? {} : { authorityHost },
    );
    try {
      const accessToken = await credential.getToken(scope);
      if (values.raw) {
        writeLine(context.stdout, accessToken.token);
      } else {
        const result = {
          accessToken: accessToken.token,
          expiresOn: formatAzExpiresOn(accessToken.expiresOnTimestamp),
          expires_on: Math.floor(accessToken.expiresOnTimestamp / 1000),
          tenant: tenantId,
          tokenType: accessToken.tokenType ?? "Bearer",
        };
        writeLine(context.stdout, JSON.stringify(result, null, 2));
      }
      return EXIT.ok;
    } finally {
      await credential.close();
    }
  },
};
