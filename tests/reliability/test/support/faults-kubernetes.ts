import {
  createTlsAuthority,
  type KubernetesApi,
  startKubernetes,
  type TlsAuthority,
} from "@fedcred/emulator";
import { KubeConfig } from "@kubernetes/client-node";
import { startTcpGate, type TcpGate } from "./faults-tcp-gate.js";

/** The app that trusts the emulated cluster's prod/billing service account. */
export const KUBERNETES_APP = "1a2b3c4d-0000-4000-8000-00000000c8c8";
export const KUBERNETES_SUBJECT = "system:serviceaccount:prod:billing";
/** A caller allowed to create tokens for every service account of `prod`. */
const MINTER = "reliability-minter-bearer-token-0123456789";

/**
 * An emulated Kubernetes API server behind a {@link TcpGate}: kubeconfigs point at the gate,
 * so a test can hold or reset connections, while Entra fetches the issuer's keys directly.
 */
export interface GatedKubernetes {
  tlsAuthority: TlsAuthority;
  kubernetes: KubernetesApi;
  gate: TcpGate;
  /** A client-node KubeConfig whose server is the gate. */
  kubeConfig(): KubeConfig;
  /** TokenRequests the API server received. */
  tokenRequests(): number;
  close(): Promise<void>;
}

export async function startGatedKubernetes(tlsAuthority?: TlsAuthority): Promise<GatedKubernetes> {
  const authority = tlsAuthority ?? (await createTlsAuthority("fedcred reliability Kubernetes CA"));
  const kubernetes = await startKubernetes({
    tlsAuthority: authority,
    serviceAccounts: [{ namespace: "prod", name: "billing" }],
    callers: [
      { token: MINTER, user: "system:serviceaccount:ops:minter", allow: [{ namespace: "prod" }] },
    ],
  });
  const gate = await startTcpGate(kubernetes.port);
  return {
    tlsAuthority: authority,
    kubernetes,
    gate,
    kubeConfig() {
      const document = kubernetes.kubeconfig({ token: MINTER, namespace: "prod" });
      for (const { cluster } of document.clusters) {
        cluster.server = `https://localhost:${gate.port}`;
      }
      const config = new KubeConfig();
      config.loadFromString(JSON.stringify(document));
      return config;
    },
    tokenRequests: () => kubernetes.tokenRequestCount,
    async close() {
      await gate.close();
      await kubernetes.close();
    },
  };
}
