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
/** A session of a role whose identity policies allow no `sts:GetWebIdentityToken`. */
export const UNPERMITTED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDNOPOLICY1",
  secretAccessKey: "unpermitted-secret-access-key-0123456789abc",
  sessionToken: "unpermitted-session-token-0123456789abcdef012345",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/i-0aaaaaaaaaaaaaaa1`,
  permissions: { getWebIdentityToken: false },
};
/** A session allowed `sts:GetWebIdentityToken` but not `sts:TagGetWebIdentityToken`. */
export const UNTAGGED_SESSION: AwsPrincipal = {
  accessKeyId: "ASIAFEDCREDNOTAGS001",
  secretAccessKey: "untagged-secret-access-key-0123456789abcdef",
  sessionToken: "untagged-session-token-0123456789abcdef01234567",
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/billing/i-0bbbbbbbbbbbbbbb2`,
  permissions: { tagGetWebIdentityToken: false },
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
        principals: [
          BILLING_SESSION,
          REPORTS_SESSION,
          SHORT_SESSION,
          EXPIRED_SESSION,
          UNPERMITTED_SESSION,
          UNTAGGED_SESSION,
        ],
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
