import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import {
  CredentialUnavailableError,
  type DestinationTls,
  logger,
  type TokenProxyOptions,
  tokenProxyBaseUrl,
} from "@fedcred/core";

/**
 * The environment variable: the AKS token proxy's URL, set by the workload-identity webhook for identity bindings.
 *
 * @example
 * ```ts
 * import { AZURE_KUBERNETES_TOKEN_PROXY } from "@fedcred/kubernetes";
 *
 * console.log(process.env[AZURE_KUBERNETES_TOKEN_PROXY]);
 * ```
 */
export const AZURE_KUBERNETES_TOKEN_PROXY = "AZURE_KUBERNETES_TOKEN_PROXY";
/**
 * The environment variable: the TLS server name (SNI and certificate check) of the token proxy.
 *
 * @example
 * ```ts
 * import { AZURE_KUBERNETES_SNI_NAME } from "@fedcred/kubernetes";
 *
 * console.log(process.env[AZURE_KUBERNETES_SNI_NAME]);
 * ```
 */
export const AZURE_KUBERNETES_SNI_NAME = "AZURE_KUBERNETES_SNI_NAME";
/**
 * The environment variable: a file holding the token proxy's CA (PEM); the platform rotates it.
 *
 * @example
 * ```ts
 * import { AZURE_KUBERNETES_CA_FILE } from "@fedcred/kubernetes";
 *
 * console.log(process.env[AZURE_KUBERNETES_CA_FILE]);
 * ```
 */
export const AZURE_KUBERNETES_CA_FILE = "AZURE_KUBERNETES_CA_FILE";
/**
 * The environment variable: the token proxy's CA, inline (PEM).
 *
 * @example
 * ```ts
 * import { AZURE_KUBERNETES_CA_DATA } from "@fedcred/kubernetes";
 *
 * console.log(process.env[AZURE_KUBERNETES_CA_DATA]);
 * ```
 */
export const AZURE_KUBERNETES_CA_DATA = "AZURE_KUBERNETES_CA_DATA";

const VARIABLES = [
  AZURE_KUBERNETES_TOKEN_PROXY,
  AZURE_KUBERNETES_SNI_NAME,
  AZURE_KUBERNETES_CA_FILE,
  AZURE_KUBERNETES_CA_DATA,
] as const;

let warnedDisabled = false;

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/**
 * The token route of an AKS identity binding, read from the webhook's variables as the Azure
 * SDKs do: with the opt-in off, the variables are ignored (logged once); on, the proxy URL must
 * be `https` without user info, query or fragment, the CA comes from a file or inline data (not
 * both), and SNI or CA variables without the proxy URL are an error.
 */
export function azureProxyRoute(
  enabled: boolean,
  env: NodeJS.ProcessEnv,
): TokenProxyOptions | undefined {
  const value = (name: (typeof VARIABLES)[number]): string | undefined => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };
  const present = VARIABLES.filter((name) => value(name) !== undefined);
  if (!enabled) {
    if (present.length > 0 && !warnedDisabled) {
      warnedDisabled = true;
      logger.warning(
        `${present.join(", ")} ${present.length === 1 ? "is" : "are"} set, but enableAzureProxy is off: token requests go to the authority host. Pods of an AKS identity binding need workloadIdentityCredential({ enableAzureProxy: true }).`,
      );
    }
    return undefined;
  }
  const proxy = value(AZURE_KUBERNETES_TOKEN_PROXY);
  const servername = value(AZURE_KUBERNETES_SNI_NAME);
  const caFile = value(AZURE_KUBERNETES_CA_FILE);
  const caData = value(AZURE_KUBERNETES_CA_DATA);
  if (proxy === undefined) {
    if (present.length > 0) {
      throw invalid(
        `${present.join(", ")} ${present.length === 1 ? "is" : "are"} set without ${AZURE_KUBERNETES_TOKEN_PROXY}: set the proxy URL too, or unset ${present.length === 1 ? "it" : "them"}.`,
      );
    }
    return undefined;
  }
  const url = tokenProxyBaseUrl(proxy, AZURE_KUBERNETES_TOKEN_PROXY);
  if (caFile !== undefined && caData !== undefined) {
    throw invalid(
      `${AZURE_KUBERNETES_CA_FILE} and ${AZURE_KUBERNETES_CA_DATA} are both set: the token proxy's CA comes from one of them, set only one.`,
    );
  }
  if (servername !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(servername)) {
    throw invalid(
      `${AZURE_KUBERNETES_SNI_NAME} must be a DNS name, got ${JSON.stringify(servername)}.`,
    );
  }
  if (caData !== undefined && !isPemCertificates(caData)) {
    throw invalid(
      `${AZURE_KUBERNETES_CA_DATA} is not a PEM certificate (-----BEGIN CERTIFICATE-----...): it must hold the token proxy's CA.`,
    );
  }
  const extra = servername !== undefined ? { servername } : {};
  if (caFile !== undefined) {
    const readCa = caFileReader(caFile);
    return { url, tls: async () => ({ ca: await readCa(), ...extra }) };
  }
  const tls: DestinationTls = { ...(caData !== undefined ? { ca: caData } : {}), ...extra };
  return { url, ...(Object.keys(tls).length > 0 ? { tls } : {}) };
}

/**
 * Reads the CA file when it changed since the last read (the platform rotates it); while a
 * rotation leaves it empty, missing or half written, the previous CA stays in use.
 */
function caFileReader(path: string): () => Promise<string> {
  let current: { version: string; ca: string } | undefined;
  return async () => {
    let version: string;
    let ca: string;
    try {
      const info = await stat(path, { bigint: true });
      version = `${info.ino}:${info.size}:${info.mtimeNs}`;
      if (current?.version === version) return current.ca;
      ca = (await readFile(path, "utf8")).trim();
    } catch (error) {
      if (current !== undefined) return current.ca;
      throw new CredentialUnavailableError(
        `${AZURE_KUBERNETES_CA_FILE} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): check that the token proxy's CA is mounted.`,
        "assertion_unavailable",
        { cause: error },
      );
    }
    if (ca === "" || !isPemCertificates(ca)) {
      // Mid-rotation (empty, or half written): the previous CA stays in use.
      if (current !== undefined) return current.ca;
      throw new CredentialUnavailableError(
        ca === ""
          ? `${AZURE_KUBERNETES_CA_FILE} ${path} is empty: the token proxy's CA has not been written yet.`
          : `${AZURE_KUBERNETES_CA_FILE} ${path} does not hold PEM certificates (-----BEGIN CERTIFICATE-----...): it must hold the token proxy's CA.`,
        "assertion_unavailable",
      );
    }
    current = { version, ca };
    return ca;
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Whether `text` holds one or more PEM certificates, each of which parses. */
function isPemCertificates(text: string): boolean {
  const blocks = text.match(PEM_CERTIFICATE);
  if (blocks === null) return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}
