import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { connect } from "node:tls";
import { PUBLIC_CLOUD } from "../entra-rules.js";
import type { Check } from "./checks.js";
import { PLACEHOLDER_CLIENT, PLACEHOLDER_TENANT } from "./core-refusal.js";

/** The variables the workload-identity webhook adds for an AKS identity binding. */
export const IDENTITY_BINDING_VARIABLES: readonly string[] = [
  "AZURE_KUBERNETES_TOKEN_PROXY",
  "AZURE_KUBERNETES_SNI_NAME",
  "AZURE_KUBERNETES_CA_FILE",
  "AZURE_KUBERNETES_CA_DATA",
];

const CHECK = "identity binding";

function handshake(
  host: string,
  port: number,
  servername: string | undefined,
  ca: string,
  timeoutInMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, ...(servername === undefined ? {} : { servername }) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutInMs} ms`));
    }, timeoutInMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/**
 * The identity-binding settings as `workloadIdentityCredential({ enableAzureProxy: true })` reads
 * them (it refuses a bad set at construction), then a TLS handshake with the token proxy by its
 * server name, trusting only its CA, as token requests will make it.
 */
export async function checkIdentityBinding(
  env: NodeJS.ProcessEnv,
  timeoutInMs: number,
): Promise<Check> {
  const { workloadIdentityCredential } = await import("@fedcred/kubernetes");
  try {
    // The identity values only need to be present here; their own checks judge them.
    const credential = workloadIdentityCredential({
      enableAzureProxy: true,
      tenantId: PLACEHOLDER_TENANT,
      clientId: PLACEHOLDER_CLIENT,
      tokenFilePath: "unused",
      authorityHost: PUBLIC_CLOUD,
    });
    await credential.close();
  } catch (error) {
    return {
      check: CHECK,
      ok: false,
      detail: (error as Error).message,
      fix: "The webhook sets these variables for pods of an identity binding: check the binding and the webhook's version rather than setting them by hand.",
    };
  }
  const proxy = new URL((env.AZURE_KUBERNETES_TOKEN_PROXY as string).trim());
  const servername =
    env.AZURE_KUBERNETES_SNI_NAME?.trim() || (isIP(proxy.hostname) ? undefined : proxy.hostname);
  const caFile = env.AZURE_KUBERNETES_CA_FILE?.trim();
  let ca: string;
  try {
    ca = caFile ? await readFile(caFile, "utf8") : (env.AZURE_KUBERNETES_CA_DATA?.trim() ?? "");
  } catch (error) {
    return {
      check: CHECK,
      ok: false,
      detail: `AZURE_KUBERNETES_CA_FILE ${caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      fix: "The platform writes the token proxy's CA there: check the pod's volumes.",
    };
  }
  if (ca.trim() === "") {
    return {
      check: CHECK,
      ok: false,
      detail:
        "no CA for the token proxy (AZURE_KUBERNETES_CA_FILE is empty, or neither it nor AZURE_KUBERNETES_CA_DATA is set)",
      fix: "The token proxy is trusted only through its own CA: the webhook sets AZURE_KUBERNETES_CA_FILE or AZURE_KUBERNETES_CA_DATA.",
    };
  }
  const started = performance.now();
  const port = Number(proxy.port || 443);
  try {
    await handshake(proxy.hostname, port, servername, ca, timeoutInMs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      check: CHECK,
      ok: false,
      detail: `TLS with the token proxy ${proxy.host} as ${servername ?? "(no server name)"} failed: ${code ? `${code}: ` : ""}${(error as Error).message}`,
      fix: "Check AZURE_KUBERNETES_SNI_NAME (the only name on the proxy's certificate) and the CA (the platform rotates AZURE_KUBERNETES_CA_FILE), and that the proxy is reachable from the pod.",
    };
  }
  return {
    check: CHECK,
    ok: true,
    detail: `token proxy ${proxy.origin}${proxy.pathname === "/" ? "" : proxy.pathname}: TLS as ${servername} verified with its CA in ${Math.round(performance.now() - started)} ms; token requests go through it`,
    fix: null,
  };
}
