import {
  type EntraEmulator,
  type GcpMetadataServer,
  type ProtectedResource,
  startEntra,
  startGcpMetadata,
  startResource,
} from "@fedcred/emulator";

export const TENANT = "5b0c3f1e-0000-4000-8000-0000000009c1";
export const APP = "2d4c6e8a-0000-4000-8000-0000000009c2";
export const SCOPE = "https://storage.azure.com/.default";
export const EXCHANGE = "api://AzureADTokenExchange";
/** The service account's unique id: the identity token's `sub`, the federated credential's subject. */
export const UNIQUE_ID = "104729551318874962951";
export const EMAIL = "billing@acme-prod.iam.gserviceaccount.com";

/** A GCP metadata server, and an Entra app federated with its issuer and the service account. */
export interface Federation {
  metadata: GcpMetadataServer;
  entra: EntraEmulator;
  resource: ProtectedResource;
  /** Identity token requests the metadata server received, oldest first. */
  identityRequests(): GcpMetadataServer["requests"];
  close(): Promise<void>;
}

export async function startFederation(
  options: { accessTokenLifetimeSeconds?: number; tokenLifetimeSeconds?: number } = {},
): Promise<Federation> {
  const metadata = await startGcpMetadata({
    serviceAccounts: [{ email: EMAIL, uniqueId: UNIQUE_ID }],
    instance: { projectId: "acme-prod" },
    ...(options.tokenLifetimeSeconds !== undefined
      ? { tokenLifetimeSeconds: options.tokenLifetimeSeconds }
      : {}),
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
                name: "gcp-billing",
                issuer: metadata.issuer,
                subject: UNIQUE_ID,
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
    metadata,
    entra,
    resource,
    identityRequests: () =>
      metadata.requests.filter((request) => request.path.endsWith("/identity")),
    async close() {
      await Promise.all([resource.close(), entra.close(), metadata.close()]);
    },
  };
}

/** The claims of a JWT, unverified. */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}
