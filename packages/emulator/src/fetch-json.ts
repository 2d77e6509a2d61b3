import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";

/** Options of {@link fetchJson}. */
export interface FetchJsonOptions {
  /** Extra CA certificates (PEM) trusted next to the system ones, for HTTPS URLs. */
  trustedCertificates?: readonly string[];
  /** Gives up after this many milliseconds. Defaults to 5000. */
  timeoutMs?: number;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** True when `url` names this machine: the only place the emulator ever sends a request. */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.");
}

/**
 * GETs a JSON document from a loopback URL, over HTTPS trusting `trustedCertificates`
 * plus the system CAs, or over plain HTTP.
 *
 * @example
 * ```ts
 * const metadata = await fetchJson(new URL("http://127.0.0.1:8080/.well-known/openid-configuration"));
 * ```
 */
export function fetchJson(url: URL, options: FetchJsonOptions = {}): Promise<unknown> {
  if (!isLoopbackUrl(url)) {
    return Promise.reject(
      new Error(`refusing to fetch ${url.origin}: the emulator only talks to loopback`),
    );
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const onResponse = (response: import("node:http").IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        if ((response.statusCode ?? 0) !== 200) {
          reject(new Error(`GET ${url.href} answered ${response.statusCode}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch {
          reject(new Error(`GET ${url.href} did not answer JSON`));
        }
      });
    };
    const outgoing =
      url.protocol === "https:"
        ? httpsRequest(
            url,
            { ca: [...rootCertificates, ...(options.trustedCertificates ?? [])] },
            onResponse,
          )
        : url.protocol === "http:"
          ? httpRequest(url, onResponse)
          : undefined;
    if (!outgoing) {
      reject(new Error(`unsupported scheme ${url.protocol}`));
      return;
    }
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`GET ${url.href} timed out`)));
    outgoing.on("error", reject);
    outgoing.end();
  });
}
