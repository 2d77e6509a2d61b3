import { randomBytes } from "node:crypto";
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import { createServer, Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { isLoopbackUrl } from "./fetch-json.js";
import { answerFailures, readBodyBytes, sendJson, serve } from "./http.js";
import { createTlsAuthority, type TlsAuthority } from "./tls.js";

/**
 * Options of {@link startIdentityBindingProxy}.
 *
 * @example
 * ```ts
 * const options: IdentityBindingProxyOptions = { target: entra.url, targetCa: ca.caCertificate };
 * ```
 */
export interface IdentityBindingProxyOptions {
  /** The Entra base URL to forward to (the emulated Entra's `url`, e.g. `https://localhost:PORT`). Loopback only. */
  target: string;
  /** PEM CA(s) to trust when forwarding to `target`. Node's default trust (with `NODE_EXTRA_CA_CERTS`) when absent. */
  targetCa?: string | string[];
  /** The TLS server name clients must send (SNI) and verify. Defaults to `identity-binding.fedcred.test`. */
  serverName?: string;
  /** Path before `/{tenant}/oauth2/v2.0/token`: `""` or starting with `/`. Defaults to `/identity-binding`. */
  pathPrefix?: string;
  /** Host to bind. Defaults to `127.0.0.1`. */
  host?: string;
  /** Port to bind. Defaults to `0`: a free port chosen by the system. */
  port?: number;
}

/**
 * One request the identity-binding proxy answered.
 *
 * @example
 * ```ts
 * const forwarded = proxy.requests.filter((record: IdentityBindingProxyRecord) => record.tenant !== undefined);
 * ```
 */
export interface IdentityBindingProxyRecord {
  method: string;
  /** The request path, without the query. */
  path: string;
  /** The tenant segment, when the path is a token path (whatever the method). */
  tenant?: string;
  /** The server name the client sent in SNI. */
  servername?: string;
  /** The status answered; 0 when the client left (or `close()` ran) before the target answered. */
  status: number;
}

/**
 * A running emulated AKS identity-binding token proxy.
 *
 * @example
 * ```ts
 * const proxy: IdentityBindingProxy = await startIdentityBindingProxy({ target: entra.url });
 * process.env.AZURE_KUBERNETES_TOKEN_PROXY = proxy.url;
 * process.env.AZURE_KUBERNETES_SNI_NAME = proxy.serverName;
 * process.env.AZURE_KUBERNETES_CA_DATA = proxy.caCertificate;
 * await proxy.close();
 * ```
 */
export interface IdentityBindingProxy {
  /** The `AZURE_KUBERNETES_TOKEN_PROXY` value: `https://127.0.0.1:PORT{pathPrefix}` (the address, not the server name). */
  readonly url: string;
  readonly port: number;
  /** The `AZURE_KUBERNETES_SNI_NAME` value: the only name on the certificate and the only SNI accepted. */
  readonly serverName: string;
  /** PEM of the CA the current server certificate chains to (a new one after {@link IdentityBindingProxy.rotateCertificate}). */
  readonly caCertificate: string;
  /** Every request answered, oldest first. */
  readonly requests: readonly IdentityBindingProxyRecord[];
  /** TLS handshakes refused because their SNI was absent or not `serverName`, oldest first. */
  readonly refusedHandshakes: readonly { readonly servername?: string }[];
  /** Token requests sent to the target, whatever the answer. */
  readonly forwardedCount: number;
  /**
   * Generates a new CA and a server certificate for `serverName` and serves it to every new
   * handshake; returns the new CA's PEM. The old CA no longer validates new handshakes. Idle
   * keep-alive connections are closed and session tickets renewed, as a proxy restarted with
   * its new certificate would. Pass `authority` (from `createTlsAuthority(name, [serverName],
   * { loopback: false })`) to serve a CA made beforehand: a platform publishes the new CA
   * before it switches.
   */
  rotateCertificate(authority?: TlsAuthority): Promise<string>;
  /** Stops listening, ends every open connection and abandons requests still being forwarded. */
  close(): Promise<void>;
}

const DEFAULT_SERVER_NAME = "identity-binding.fedcred.test";
const DEFAULT_PATH_PREFIX = "/identity-binding";
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;
const FORWARDED_REQUEST_HEADERS = ["content-type", "client-request-id", "user-agent", "accept"];
const RELAYED_RESPONSE_HEADERS = ["content-type", "retry-after"];
const DNS_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

interface Relayed {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

function checkedTarget(target: string): URL {
  const url = new URL(target);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RangeError(`target ${target}: expected an https:// (or http://) URL`);
  }
  if (!isLoopbackUrl(url)) {
    throw new RangeError(`target ${url.origin}: the emulator only forwards to loopback`);
  }
  return url;
}

/** POSTs `body` to `url` through `agent` and reads the whole answer; `signal` abandons it. */
function forward(
  url: URL,
  headers: OutgoingHttpHeaders,
  body: Buffer,
  agent: HttpAgent,
  signal: AbortSignal,
): Promise<Relayed> {
  return new Promise((resolve, reject) => {
    const onResponse = (response: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const relayed: OutgoingHttpHeaders = {};
        for (const name of RELAYED_RESPONSE_HEADERS) {
          const value = response.headers[name];
          if (value !== undefined) relayed[name] = value;
        }
        resolve({
          status: response.statusCode ?? 502,
          headers: relayed,
          body: Buffer.concat(chunks),
        });
      });
    };
    const options = { method: "POST", headers, agent, signal };
    const outgoing =
      url.protocol === "https:"
        ? httpsRequest(url, options, onResponse)
        : httpRequest(url, options, onResponse);
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/**
 * Starts an emulated AKS identity-binding token proxy on loopback: the TLS endpoint a pod's
 * client reaches through `AZURE_KUBERNETES_TOKEN_PROXY`, `AZURE_KUBERNETES_SNI_NAME` and
 * `AZURE_KUBERNETES_CA_DATA`. Its certificate names only `serverName`, and handshakes without that
 * SNI are refused. `POST {pathPrefix}/{tenant}/oauth2/v2.0/token` is forwarded, body unchanged,
 * to `{target}/{tenant}/oauth2/v2.0/token` and the answer relayed (502 when the target cannot be
 * reached); any other request gets 404.
 *
 * @example
 * ```ts
 * const proxy = await startIdentityBindingProxy({ target: entra.url, targetCa: ca.caCertificate });
 * const answer = await new Promise((resolve, reject) =>
 *   https
 *     .request(`${proxy.url}/${tenantId}/oauth2/v2.0/token`, {
 *       method: "POST",
 *       servername: proxy.serverName,
 *       ca: proxy.caCertificate,
 *       headers: { "content-type": "application/x-www-form-urlencoded" },
 *     }, resolve)
 *     .on("error", reject)
 *     .end(form.toString()),
 * );
 * await proxy.close();
 * ```
 */
export async function startIdentityBindingProxy(
  options: IdentityBindingProxyOptions,
): Promise<IdentityBindingProxy> {
  const target = checkedTarget(options.target);
  const targetPath = target.pathname.replace(/\/+$/, "");
  const serverName = (options.serverName ?? DEFAULT_SERVER_NAME).toLowerCase();
  if (isIP(serverName) !== 0 || !DNS_NAME.test(serverName)) {
    throw new RangeError(`serverName ${serverName}: expected a DNS name (SNI carries no address)`);
  }
  const pathPrefix = (options.pathPrefix ?? DEFAULT_PATH_PREFIX).replace(/\/+$/, "");
  if (pathPrefix !== "" && !pathPrefix.startsWith("/")) {
    throw new RangeError(`pathPrefix ${pathPrefix}: expected "" or a path starting with "/"`);
  }
  const host = options.host ?? "127.0.0.1";
  // The proxy's own connection pool to the target, ended by close().
  const agent =
    target.protocol === "https:"
      ? new HttpsAgent({ keepAlive: true, ...(options.targetCa ? { ca: options.targetCa } : {}) })
      : new HttpAgent({ keepAlive: true });

  const requests: IdentityBindingProxyRecord[] = [];
  const refusedHandshakes: { servername?: string }[] = [];
  let forwardedCount = 0;
  let caCertificate = "";
  let context: SecureContext | undefined;
  const install = async (given?: TlsAuthority): Promise<string> => {
    const authority =
      given ??
      (await createTlsAuthority("fedcred identity-binding proxy CA", [serverName], {
        loopback: false,
      }));
    context = createSecureContext({
      cert: authority.serverCertificate,
      key: authority.serverKey,
    });
    caCertificate = authority.caCertificate;
    return caCertificate;
  };
  await install();
  // Rotations install in call order, so each returns the CA served until the next one.
  let rotation: Promise<unknown> = Promise.resolve();

  const tokenTenant = (path: string): string | undefined => {
    if (!path.startsWith(`${pathPrefix}/`)) return undefined;
    return TOKEN_PATH.exec(path.slice(pathPrefix.length))?.[1];
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const { pathname, search } = new URL(request.url ?? "/", "https://proxy.invalid");
    const tenant = tokenTenant(pathname);
    const servername = (request.socket as TLSSocket).servername;
    const record: IdentityBindingProxyRecord = {
      method: request.method ?? "",
      path: pathname,
      ...(tenant !== undefined ? { tenant } : {}),
      ...(servername ? { servername } : {}),
      status: 0,
    };
    const answer = (relayed: Relayed): void => {
      record.status = relayed.status;
      requests.push(record);
      if (response.destroyed) return;
      response.writeHead(relayed.status, {
        ...relayed.headers,
        "content-length": String(relayed.body.length),
      });
      response.end(relayed.body);
    };
    const answerJson = (status: number, body: unknown): void => {
      record.status = status;
      requests.push(record);
      if (!response.destroyed) sendJson(response, status, body);
    };

    if (request.method !== "POST" || tenant === undefined) {
      answerJson(404, {
        error: "not_found",
        error_description: `No route for ${record.method} ${pathname}: token requests are POST ${pathPrefix}/{tenant}/oauth2/v2.0/token.`,
      });
      return;
    }
    const body = await readBodyBytes(request);
    const headers: OutgoingHttpHeaders = { "content-length": String(body.length) };
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const upstream = new URL(`${target.origin}${targetPath}/${tenant}/oauth2/v2.0/token${search}`);
    // A client that goes away (or close()) abandons the forwarded request too.
    const abandoned = new AbortController();
    response.once("close", () => abandoned.abort());
    forwardedCount += 1;
    try {
      answer(await forward(upstream, headers, body, agent, abandoned.signal));
    } catch (error) {
      if (abandoned.signal.aborted) {
        // Nobody is left to answer: recorded with status 0, as the Entra emulator records a drop.
        requests.push(record);
        return;
      }
      answerJson(502, {
        error: "bad_gateway",
        error_description: `The identity binding proxy could not reach ${target.origin}: ${(error as Error).message}`,
      });
    }
  };

  const server = createServer(
    {
      // No default certificate: a handshake without SNI finds nothing to serve and fails.
      SNICallback: (name, callback) => {
        if (name.toLowerCase() === serverName) callback(null, context);
        else callback(new Error(`unknown server name ${name}`));
      },
    },
    answerFailures(handle),
  );
  server.on("tlsClientError", (_error: Error, socket: TLSSocket) => {
    // Failures with the right name are the client's own (it distrusted the certificate).
    const sent = socket.servername || undefined;
    if (sent?.toLowerCase() !== serverName) {
      refusedHandshakes.push(sent ? { servername: sent } : {});
    }
  });
  const listening = await serve(server, host, options.port ?? 0).catch((error: unknown) => {
    agent.destroy();
    throw error;
  });
  const { port } = listening;
  const url = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}${pathPrefix}`;

  return {
    url,
    port,
    serverName,
    get caCertificate() {
      return caCertificate;
    },
    requests,
    refusedHandshakes,
    get forwardedCount() {
      return forwardedCount;
    },
    rotateCertificate(authority?: TlsAuthority) {
      // Idle keep-alive connections end, as when a proxy restarts with its new certificate: the
      // next request handshakes anew and must trust the new CA.
      const next = rotation
        .then(() => install(authority))
        .then((ca) => {
          server.closeIdleConnections();
          // New session-ticket keys too: no client resumes a session made under the old certificate.
          server.setTicketKeys(randomBytes(48));
          return ca;
        });
      rotation = next.catch(() => undefined);
      return next;
    },
    async close() {
      await listening.close();
      agent.destroy();
    },
  };
}
