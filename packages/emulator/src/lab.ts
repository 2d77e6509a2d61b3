import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AwsSts, startAwsSts } from "./aws-sts.js";
import {
  type AzurePipelinesOidc,
  type AzurePipelinesServiceConnection,
  startAzurePipelines,
} from "./azure-pipelines.js";
import { type EntraApp, type EntraEmulator, startEntra } from "./entra.js";
import { type GcpMetadataServer, startGcpMetadata } from "./gcp-metadata.js";
import { type GitHubActionsTokenService, startGitHubActions } from "./github-actions.js";
import { type ImdsServer, type ManagedIdentity, startImds } from "./imds.js";
import { type OidcIssuer, startIssuer } from "./issuer.js";
import { type KubernetesApi, startKubernetes } from "./kubernetes.js";
import { type ProjectedVolume, startProjectedVolume } from "./projected-volume.js";
import { type ProtectedResource, startResource } from "./resource.js";
import {
  createSelfSignedCertificate,
  type SelfSignedCertificate,
} from "./self-signed-certificate.js";
import { createTlsAuthority, type TlsAuthority } from "./tls.js";

/**
 * Configuration of {@link startLab}; every field has a default, and all but `tlsAuthority` fit in JSON.
 *
 * @example
 * ```ts
 * const config: LabConfig = { aws: { region: "eu-west-1" }, accessTokenLifetimeSeconds: 60 };
 * const lab = await startLab(config);
 * ```
 */
export interface LabConfig {
  /** Defaults to a fresh GUID. */
  tenantId?: string;
  /** The lab app's client id. Defaults to a fresh GUID. */
  clientId?: string;
  /** App roles of the lab app (the token's `roles`). Defaults to `["Lab.Read"]`. */
  roles?: string[];
  /** The resource the protected endpoint accepts tokens for. Defaults to `https://storage.azure.com`. */
  resourceAudience?: string;
  /** The Kubernetes service account whose projected token is the federated token file. Defaults to `fedcred/workload`. */
  kubernetes?: { namespace?: string; serviceAccount?: string; tokenExpirationSeconds?: number };
  /** The AWS account and role the lab's keys belong to. Defaults to `123456789012` and `fedcred-workload`. */
  aws?: { accountId?: string; roleName?: string; region?: string };
  /** The subject federated with the generic OIDC issuer. Defaults to `fedcred:lab:workload`. */
  issuerSubject?: string;
  accessTokenLifetimeSeconds?: number;
  refreshInSeconds?: number;
  /** More apps to register in the lab tenant. */
  apps?: EntraApp[];
  /** Where the token file, kubeconfig and CA file go. Defaults to a temporary directory removed by `close()`. */
  directory?: string;
  /** The CA every server's certificate chains to. Generated when absent. */
  tlsAuthority?: TlsAuthority;
}

/**
 * The environment a program needs to use the lab, by variable name.
 *
 * @example
 * ```ts
 * const env: LabEnvironment = lab.env;
 * spawn("node", ["app.mjs"], { env: { ...process.env, ...env } });
 * ```
 */
export interface LabEnvironment {
  AZURE_AUTHORITY_HOST: string;
  AZURE_TENANT_ID: string;
  AZURE_CLIENT_ID: string;
  AZURE_FEDERATED_TOKEN_FILE: string;
  KUBECONFIG: string;
  AWS_ENDPOINT_URL_STS: string;
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  AWS_SESSION_TOKEN: string;
  NODE_EXTRA_CA_CERTS: string;
  /** The protected resource's URL (not a standard variable: for demos and tests). */
  FEDCRED_RESOURCE_URL: string;
  /** The resource's scope, `{resourceAudience}/.default`. */
  FEDCRED_RESOURCE_SCOPE: string;
  [name: string]: string;
}

/**
 * A running federation lab.
 *
 * @example
 * ```ts
 * const lab: Lab = await startLab();
 * lab.env.AZURE_FEDERATED_TOKEN_FILE;
 * await lab.close();
 * ```
 */
export interface Lab {
  readonly env: LabEnvironment;
  readonly tenantId: string;
  readonly clientId: string;
  readonly directory: string;
  readonly tlsAuthority: TlsAuthority;
  readonly entra: EntraEmulator;
  readonly resource: ProtectedResource;
  readonly issuer: OidcIssuer;
  readonly kubernetes: KubernetesApi;
  readonly sts: AwsSts;
  /** The projected service-account token behind `AZURE_FEDERATED_TOKEN_FILE`. */
  readonly tokenVolume: ProjectedVolume;
  /** The certificate registered on the lab app, and its key. */
  readonly certificate: SelfSignedCertificate;
  /** A GitHub Actions job's ID-token service (HTTPS), repository `fedcred/lab`, environment `lab`. */
  readonly githubActions: GitHubActionsTokenService;
  /** An Azure Pipelines job's OIDC endpoint (HTTPS), organization `fedcred`, project `lab`. */
  readonly azurePipelines: AzurePipelinesOidc;
  /** The Azure Pipelines service connection federated with the lab app (`lab-deploy`). */
  readonly serviceConnection: AzurePipelinesServiceConnection;
  /** A GCP metadata server (plain HTTP, as the real one), with its own OIDC issuer. */
  readonly gcpMetadata: GcpMetadataServer;
  /** Azure IMDS and App Service identity endpoints (plain HTTP), in their own home tenant. */
  readonly imds: ImdsServer;
  /** The user-assigned managed identity federated with the lab app (in the IMDS home tenant). */
  readonly managedIdentity: ManagedIdentity;
  /** Federated credentials of the lab app, by source. */
  readonly subjects: {
    kubernetes: string;
    aws: string;
    issuer: string;
    githubActions: string;
    azurePipelines: string;
    /** The GCP service account's unique id. */
    gcp: string;
    /** The managed identity's object id. */
    managedIdentity: string;
  };
  close(): Promise<void>;
}

const EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/**
 * Starts a whole federation lab on loopback, every server sharing one CA: Entra (HTTPS), a
 * protected resource, an OIDC issuer, a Kubernetes API server with a projected token volume, AWS
 * STS, a GitHub Actions token service and an Azure Pipelines OIDC endpoint (HTTPS), and a GCP
 * metadata server and Azure IMDS (plain HTTP, as the real ones), with one app federated with all
 * seven issuers and holding a certificate.
 *
 * @example
 * ```ts
 * const lab = await startLab();
 * console.log(lab.env.AZURE_AUTHORITY_HOST, lab.env.AZURE_FEDERATED_TOKEN_FILE);
 * await lab.close();
 * ```
 */
export async function startLab(config: LabConfig = {}): Promise<Lab> {
  const tenantId = config.tenantId ?? randomUUID();
  const clientId = config.clientId ?? randomUUID();
  const namespace = config.kubernetes?.namespace ?? "fedcred";
  const serviceAccount = config.kubernetes?.serviceAccount ?? "workload";
  const accountId = config.aws?.accountId ?? "123456789012";
  const roleName = config.aws?.roleName ?? "fedcred-workload";
  const region = config.aws?.region ?? "us-east-1";
  const resourceAudience = config.resourceAudience ?? "https://storage.azure.com";
  const ownsDirectory = config.directory === undefined;
  const directory = config.directory ?? (await mkdtemp(join(tmpdir(), "fedcred-lab-")));
  await mkdir(directory, { recursive: true });

  const [tlsAuthority, certificate] = await Promise.all([
    config.tlsAuthority ?? createTlsAuthority(),
    createSelfSignedCertificate({ commonName: "fedcred lab app" }),
  ]);
  const tls = { cert: tlsAuthority.serverCertificate, key: tlsAuthority.serverKey };
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async (): Promise<void> => {
    for (const server of started.reverse()) await server.close();
    if (ownsDirectory) await rm(directory, { recursive: true, force: true });
  };

  try {
    const callerToken = randomBytes(24).toString("base64url");
    const kubernetes = await startKubernetes({
      tlsAuthority,
      serviceAccounts: [{ namespace, name: serviceAccount }],
      callers: [
        {
          token: callerToken,
          user: `system:serviceaccount:${namespace}:${serviceAccount}`,
          allow: [{ namespace, name: serviceAccount }],
        },
      ],
    });
    started.push(kubernetes);
    const session = {
      accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(48).toString("base64"),
      arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/fedcred-lab`,
    };
    const sts = await startAwsSts({
      region,
      tlsAuthority,
      accounts: [{ accountId, outboundWebIdentityFederation: true, principals: [session] }],
    });
    started.push(sts);
    const issuer = await startIssuer({ tls });
    started.push(issuer);
    const githubActions = await startGitHubActions({
      job: { repository: "fedcred/lab", environment: "lab" },
      tlsAuthority,
    });
    started.push(githubActions);
    const serviceConnection = { id: randomUUID(), name: "lab-deploy" };
    const azurePipelines = await startAzurePipelines({
      organization: "fedcred",
      project: "lab",
      serviceConnections: [serviceConnection],
      tlsAuthority,
    });
    started.push(azurePipelines);
    const gcpMetadata = await startGcpMetadata();
    started.push(gcpMetadata);
    const managedIdentity: ManagedIdentity = {
      clientId: randomUUID(),
      objectId: randomUUID(),
      resourceId:
        "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/fedcred-lab/providers/Microsoft.ManagedIdentity/userAssignedIdentities/workload",
      userAssigned: true,
    };
    const imds = await startImds({ identities: [managedIdentity] });
    started.push(imds);
    const gcpAccount = gcpMetadata.serviceAccounts[0];
    if (gcpAccount === undefined) throw new Error("the GCP metadata server has no service account");

    const subjects = {
      kubernetes: `system:serviceaccount:${namespace}:${serviceAccount}`,
      aws: `arn:aws:iam::${accountId}:role/${roleName}`,
      issuer: config.issuerSubject ?? "fedcred:lab:workload",
      githubActions: githubActions.subject,
      azurePipelines: azurePipelines.subject(serviceConnection.name),
      gcp: gcpAccount.uniqueId,
      managedIdentity: managedIdentity.objectId,
    };
    const entra = await startEntra({
      tls,
      trustedCertificates: [tlsAuthority.caCertificate],
      ...(config.accessTokenLifetimeSeconds !== undefined
        ? { accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds }
        : {}),
      ...(config.refreshInSeconds !== undefined
        ? { refreshInSeconds: config.refreshInSeconds }
        : {}),
      tenants: [
        {
          tenantId,
          apps: [
            {
              clientId,
              roles: config.roles ?? ["Lab.Read"],
              certificates: [certificate.certificatePem],
              federatedCredentials: [
                {
                  name: "kubernetes",
                  issuer: kubernetes.issuer,
                  subject: subjects.kubernetes,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "aws",
                  issuer: sts.issuer(accountId),
                  subject: subjects.aws,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "oidc-issuer",
                  issuer: issuer.url,
                  subject: subjects.issuer,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "github-actions",
                  issuer: githubActions.issuer,
                  subject: subjects.githubActions,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "azure-pipelines",
                  issuer: azurePipelines.issuer,
                  subject: subjects.azurePipelines,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "gcp",
                  issuer: gcpMetadata.issuer,
                  subject: subjects.gcp,
                  audiences: [EXCHANGE_AUDIENCE],
                },
                {
                  name: "managed-identity",
                  issuer: imds.issuer,
                  subject: subjects.managedIdentity,
                  audiences: [EXCHANGE_AUDIENCE],
                },
              ],
            },
            ...(config.apps ?? []),
          ],
        },
      ],
    });
    started.push(entra);
    const resource = await startResource({ entra, tenantId, audience: resourceAudience, tls });
    started.push(resource);

    const caFile = join(directory, "ca.pem");
    const kubeconfigFile = join(directory, "kubeconfig");
    await writeFile(caFile, tlsAuthority.caCertificate);
    await kubernetes.writeKubeconfig(kubeconfigFile, { token: callerToken, namespace });
    const tokenVolume = await startProjectedVolume({
      directory: join(directory, "serviceaccount"),
      mint: {
        kubernetes,
        namespace,
        name: serviceAccount,
        audiences: [EXCHANGE_AUDIENCE],
        expirationSeconds: config.kubernetes?.tokenExpirationSeconds ?? 3600,
      },
    });
    started.push(tokenVolume);

    const env: LabEnvironment = {
      AZURE_AUTHORITY_HOST: `${entra.url}/`,
      AZURE_TENANT_ID: tenantId,
      AZURE_CLIENT_ID: clientId,
      AZURE_FEDERATED_TOKEN_FILE: tokenVolume.path,
      KUBECONFIG: kubeconfigFile,
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: session.accessKeyId,
      AWS_SECRET_ACCESS_KEY: session.secretAccessKey,
      AWS_SESSION_TOKEN: session.sessionToken,
      NODE_EXTRA_CA_CERTS: caFile,
      FEDCRED_RESOURCE_URL: resource.url,
      FEDCRED_RESOURCE_SCOPE: `${resourceAudience}/.default`,
    };
    return {
      env,
      tenantId,
      clientId,
      directory,
      tlsAuthority,
      entra,
      resource,
      issuer,
      kubernetes,
      sts,
      tokenVolume,
      certificate,
      githubActions,
      azurePipelines,
      serviceConnection,
      gcpMetadata,
      imds,
      managedIdentity,
      subjects,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
