import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AwsPrincipal,
  type AwsSts,
  type EntraEmulator,
  type ProtectedResource,
  startAwsSts,
  startEntra,
  startResource,
} from "@fedcred/emulator";

export const TENANT = "5b0c3f1e-0000-4000-8000-0000000009a5";
export const APP = "2d4c6e8a-0000-4000-8000-0000000009a9";
export const SCOPE = "https://storage.azure.com/.default";
export const EXCHANGE = "api://AzureADTokenExchange";
export const REGION = "eu-west-1";
export const ACCOUNT = "111122223333";
export const DISABLED_ACCOUNT = "444455556666";
/** The role the Entra app trusts: its ARN is the federated credential's subject. */
export const ROLE_ARN: string = `arn:aws:iam::${ACCOUNT}:role/billing`;

/** An EC2 instance's session of the billing role: temporary keys, as the default chain finds them. */
export const BILLING_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDBILLING01",
  secretAccessKey: "billing-secret-access-key-0123456789abcdef",
  sessionToken: "billing-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/i-0123456789abcdef0`,
};
/** A session of a role no federated credential names. */
export const REPORTS_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDREPORTS01",
  secretAccessKey: "reports-secret-access-key-0123456789abcdef",
  sessionToken: "reports-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/reports/task-42`,
};
/** A session whose keys stop working in 10 minutes: STS refuses longer-lived tokens. */
export const SHORT_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDSHORT0001",
  secretAccessKey: "short-secret-access-key-0123456789abcdef",
  sessionToken: "short-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/short`,
  expiresAt: new Date(Date.now() + 10 * 60_000),
};
/** A session whose keys have expired. */
export const EXPIRED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDEXPIRED01",
  secretAccessKey: "expired-secret-access-key-0123456789abcdef",
  sessionToken: "expired-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/old`,
  expiresAt: new Date(Date.now() - 60_000),
};
/** A role in an account that never enabled outbound identity federation. */
export const DISABLED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDDISABLED1",
  secretAccessKey: "disabled-secret-access-key-0123456789abcdef",
  sessionToken: "disabled-session-token-0123456789abcdef0123456789",
  arn: `arn:aws:sts::${DISABLED_ACCOUNT}:assumed-role/billing/i-0fedcba9876543210`,
};

/** The emulated STS (verifying SigV4), and an Entra app federated with its account issuer and the billing role. */
export interface Federation {
  sts: AwsSts;
  entra: EntraEmulator;
  resource: ProtectedResource;
  /** An `STSClientConfig` for the emulated STS with `principal`'s keys and no SDK retries. */
  clientConfig(principal?: AwsPrincipal, extra?: Record<string, unknown>): Record<string, unknown>;
  /** The `GetWebIdentityToken` requests STS received, oldest first. */
  webIdentityRequests(): AwsSts["requests"];
  /** Entra's token requests, oldest first. */
  tokenRequests(): EntraEmulator["requests"];
  close(): Promise<void>;
}

export async function startFederation(
  options: { accessTokenLifetimeSeconds?: number } = {},
): Promise<Federation> {
  const sts = await startAwsSts({
    region: REGION,
    accounts: [
      {
        accountId: ACCOUNT,
        outboundWebIdentityFederation: true,
        principals: [BILLING_SESSION, REPORTS_SESSION, SHORT_SESSION, EXPIRED_SESSION],
      },
      { accountId: DISABLED_ACCOUNT, principals: [DISABLED_SESSION] },
    ],
  });
  const entra = await startEntra({
    ...(options.accessTokenLifetimeSeconds !== undefined
      ? { accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds }
      : {}),
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              {
                name: "aws-billing",
                issuer: sts.issuer(ACCOUNT),
                subject: ROLE_ARN,
                audiences: [EXCHANGE],
              },
            ],
          },
        ],
      },
    ],
  });
  const resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://storage.azure.com",
  });
  return {
    sts,
    entra,
    resource,
    clientConfig: (principal = BILLING_SESSION, extra = {}) => ({
      endpoint: sts.url,
      region: REGION,
      credentials: {
        accessKeyId: principal.accessKeyId,
        secretAccessKey: principal.secretAccessKey,
        ...(principal.sessionToken ? { sessionToken: principal.sessionToken } : {}),
      },
      maxAttempts: 1,
      ...extra,
    }),
    webIdentityRequests: () =>
      sts.requests.filter((request) => request.action === "GetWebIdentityToken"),
    tokenRequests: () =>
      entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token")),
    async close() {
      await Promise.all([resource.close(), entra.close(), sts.close()]);
    },
  };
}

/** The claims of a JWT, unverified. */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}

/** The header of a JWT. */
export function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[0] ?? "", "base64url").toString("utf8"));
}

/** One request a {@link RefusingSts} received: its form parameters. */
export interface RefusingSts {
  url: string;
  requests: Record<string, string>[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for a regional STS endpoint that answers every request with one query-protocol
 * error, as STS words it: for refusals the emulated STS has no policy for (AccessDenied, Throttling).
 */
export async function startRefusingSts(
  status: number,
  code: string,
  message: string,
): Promise<RefusingSts> {
  const requests: Record<string, string>[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push(
        Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8"))),
      );
      const body = [
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
        "  <Error>",
        "    <Type>Sender</Type>",
        `    <Code>${code}</Code>`,
        `    <Message>${message}</Message>`,
        "  </Error>",
        "  <RequestId>4c8a1f2e-0000-4000-8000-000000000001</RequestId>",
        "</ErrorResponse>\n",
      ].join("\n");
      response.writeHead(status, {
        "content-type": "text/xml",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
