import {
  createTlsAuthority,
  type EntraEmulator,
  type KubernetesApi,
  type ProtectedResource,
  startEntra,
  startKubernetes,
  startResource,
  type TlsAuthority,
} from "@fedcred/emulator";
import { KubeConfig } from "@kubernetes/client-node";

export const TENANT = "5b0c3f1e-0000-4000-8000-0000000008e5";
export const APP = "2d4c6e8a-0000-4000-8000-0000000008a9";
export const SCOPE = "https://storage.azure.com/.default";
export const EXCHANGE = "api://AzureADTokenExchange";
export const BINDING_AUDIENCE = "api://AKSIdentityBinding";
export const BILLING_POD_UID = "0b6c6f1e-1111-4000-8000-000000000001";
/** The caller allowed to mint tokens for every service account of `prod`. */
export const MINTER = "minter-bearer-token-0123456789";
export const MINTER_USER = "system:serviceaccount:ops:minter";
/** A caller with no RBAC grant at all. */
export const NOBODY = "nobody-bearer-token-0123456789";
export const NOBODY_USER = "system:serviceaccount:ops:nobody";

/** An emulated cluster whose issuer the emulated Entra trusts for prod/billing, and a protected resource. */
export interface Federation {
  tlsAuthority: TlsAuthority;
  kubernetes: KubernetesApi;
  entra: EntraEmulator;
  resource: ProtectedResource;
  /** A client-node KubeConfig for the emulated API server, authenticating with `token`. */
  kubeConfig(token?: string, namespace?: string): KubeConfig;
  /** Entra's token requests, oldest first. */
  tokenRequests(): EntraEmulator["requests"];
  close(): Promise<void>;
}

export interface FederationOptions {
  /** The API server's `--service-account-max-token-expiration`. */
  maxExpirationSeconds?: number;
  accessTokenLifetimeSeconds?: number;
  /** Audiences the FIC for prod/billing accepts. Default: api://AzureADTokenExchange. */
  ficAudiences?: string[];
}

export async function startFederation(options: FederationOptions = {}): Promise<Federation> {
  const tlsAuthority = await createTlsAuthority("kubernetes test CA");
  const kubernetes = await startKubernetes({
    tlsAuthority,
    serviceAccounts: [
      { namespace: "prod", name: "billing" },
      { namespace: "prod", name: "reports" },
    ],
    pods: [
      { namespace: "prod", name: "billing-7d9f", serviceAccount: "billing", uid: BILLING_POD_UID },
    ],
    callers: [
      { token: MINTER, user: MINTER_USER, allow: [{ namespace: "prod" }] },
      { token: NOBODY, user: NOBODY_USER, allow: [] },
    ],
    ...(options.maxExpirationSeconds !== undefined
      ? { maxExpirationSeconds: options.maxExpirationSeconds }
      : {}),
  });
  const entra = await startEntra({
    trustedCertificates: [tlsAuthority.caCertificate],
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
                issuer: kubernetes.issuer,
                subject: "system:serviceaccount:prod:billing",
                audiences: options.ficAudiences ?? [EXCHANGE],
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
    tlsAuthority,
    kubernetes,
    entra,
    resource,
    kubeConfig(token = MINTER, namespace?: string) {
      const config = new KubeConfig();
      config.loadFromString(
        JSON.stringify(kubernetes.kubeconfig({ token, ...(namespace ? { namespace } : {}) })),
      );
      return config;
    },
    tokenRequests: () =>
      entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token")),
    async close() {
      await Promise.all([resource.close(), entra.close(), kubernetes.close()]);
    },
  };
}

/** The claims of a JWT, unverified. */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
}

/** The TokenRequests the API server received. */
export function tokenRequestsOf(kubernetes: KubernetesApi): KubernetesApi["requests"] {
  return kubernetes.requests.filter(
    (request) => request.method === "POST" && request.path.endsWith("/token"),
  );
}
