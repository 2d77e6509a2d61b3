import {
  type EntraEmulator,
  type ImdsServer,
  type ManagedIdentity,
  type ProtectedResource,
  startEntra,
  startImds,
  startResource,
} from "@fedcred/emulator";

/** The tenant of the app that federates: not the managed identities' home tenant. */
export const TENANT = "5b0c3f1e-0000-4000-8000-0000000003a1";
export const APP = "2d4c6e8a-0000-4000-8000-0000000003a2";
export const SCOPE = "https://storage.azure.com/.default";
export const EXCHANGE = "api://AzureADTokenExchange";
/** The managed identities' home tenant. */
export const HOME_TENANT = "7c1f0d2e-0000-4000-8000-0000000003a3";

export const SYSTEM: ManagedIdentity = {
  clientId: "11111111-0000-4000-8000-000000000001",
  objectId: "11111111-0000-4000-8000-0000000000a1",
};
export const BILLING: ManagedIdentity & { resourceId: string } = {
  clientId: "22222222-0000-4000-8000-000000000002",
  objectId: "22222222-0000-4000-8000-0000000000a2",
  resourceId:
    "/subscriptions/00000000-0000-4000-8000-000000000005/resourceGroups/billing-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/billing",
  userAssigned: true,
};

/** An emulated IMDS / App Service host, and an Entra app in another tenant federated with BILLING. */
export interface Federation {
  imds: ImdsServer;
  entra: EntraEmulator;
  resource: ProtectedResource;
  /** Token requests of the identity endpoints, oldest first. */
  identityRequests(): ImdsServer["requests"];
  close(): Promise<void>;
}

export async function startFederation(
  options: { accessTokenLifetimeSeconds?: number; identities?: ManagedIdentity[] } = {},
): Promise<Federation> {
  const imds = await startImds({
    tenantId: HOME_TENANT,
    identities: options.identities ?? [SYSTEM, BILLING],
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
                name: "billing-mi",
                issuer: imds.issuer,
                subject: BILLING.objectId,
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
    imds,
    entra,
    resource,
    identityRequests: () => imds.requests.filter((request) => request.endpoint !== "other"),
    async close() {
      await Promise.all([resource.close(), entra.close(), imds.close()]);
    },
  };
}

/** The claims of a JWT, unverified. */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}
