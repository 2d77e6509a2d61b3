import type { Readable } from "node:stream";
import type { ProxyAgent } from "undici";
import { evictOldest } from "./bounded-map.js";
import type { ProxyRoute } from "./proxy.js";
import { readEncodedBody } from "./transport-body.js";
import {
  isRedirect,
  type OutgoingRequest,
  type ReceivedResponse,
  recordHeaders,
} from "./transport-node.js";
import type { TlsContexts } from "./transport-tls.js";

// undici takes about 100 ms to import: only requests that go through a proxy load it.
let undiciModule: Promise<typeof import("undici")> | undefined;

const MAX_AGENTS = 8;

/** A tunnel that failed with a socket error, retagged so undici fails the request instead of reconnecting. */
function notRecoverable(error: Error): Error {
  if ((error as { code?: unknown }).code !== "UND_ERR_SOCKET") return error;
  return Object.assign(
    new Error(`the proxy closed the connection: ${error.message}`, { cause: error }),
    {
      code: "ECONNRESET",
    },
  );
}

/** Unrefs `socket` for good: undici refs a socket while a request uses it. */
function neverRef(socket: { unref(): unknown; ref?: () => unknown }): void {
  socket.unref();
  socket.ref = () => socket;
}

type UnrefConnector = (
  options: object,
  callback: (error: Error | null, socket: { unref(): unknown; ref?: () => unknown } | null) => void,
) => void;

/**
 * Requests through a proxy: undici's `ProxyAgent` opens a CONNECT tunnel to the destination and
 * speaks TLS through it with the same CA and client certificate rules as direct connections.
 * One agent (a keep-alive pool) per proxy and TLS setting.
 */
export class TunnelConnections {
  readonly #tls: TlsContexts;
  readonly #agents = new Map<string, ProxyAgent>();

  constructor(tls: TlsContexts) {
    this.#tls = tls;
  }

  async send(request: OutgoingRequest, route: ProxyRoute): Promise<ReceivedResponse> {
    const agent = await this.#agentFor(route, request);
    request.signal.throwIfAborted();
    const { url } = request;
    let answer: Awaited<ReturnType<ProxyAgent["request"]>>;
    try {
      answer = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
      });
    } catch (error) {
      throw request.failure(error);
    }
    const body = answer.body as unknown as Readable;
    const headers = recordHeaders(answer.headers);
    if (isRedirect(answer.statusCode)) {
      body.destroy();
      throw request.redirect(answer.statusCode, headers.get("location"));
    }
    try {
      const text = await readEncodedBody(body, headers.get("content-encoding"), request.limit);
      return { status: answer.statusCode, headers, body: text };
    } catch (error) {
      body.destroy();
      throw request.failure(error);
    }
  }

  async #agentFor(route: ProxyRoute, request: OutgoingRequest): Promise<ProxyAgent> {
    undiciModule ??= import("undici");
    const [{ Pool, ProxyAgent }, destination, base] = await Promise.all([
      undiciModule,
      this.#tls.choose(request.tls),
      this.#tls.choose(undefined),
    ]);
    const servername = request.tls?.servername;
    const authorization = route.authorization();
    // No await from here on: concurrent first requests share one agent.
    // Background requests get tunnels of their own that can never hold the event loop, even
    // while a request waits in them; foreground tunnels are held by their requests' deadlines.
    const background = request.background === true;
    const key = JSON.stringify([route.uri, destination.key, servername, background]);
    const existing = this.#agents.get(key);
    if (existing !== undefined) return existing;
    const requestTls = {
      ...(destination.secureContext ? { secureContext: destination.secureContext } : {}),
      ...(servername ? { servername } : {}),
    };
    const agent = new ProxyAgent({
      // undici keeps a request queued and reconnects at once after a socket error
      // (UND_ERR_SOCKET): a proxy that closes every CONNECT would see hundreds of them per
      // second. Failing the request instead leaves the pacing to fedcred's retries.
      factory: (origin: URL | string, options: object) => {
        const { connect } = options as { connect: UnrefConnector };
        return new Pool(origin, {
          ...options,
          connect: ((connectOptions: object, callback: Parameters<UnrefConnector>[1]) =>
            connect(connectOptions, (error, socket) => {
              if (background && socket != null) neverRef(socket);
              callback(error === null ? null : notRecoverable(error), socket);
            })) as unknown,
        } as ConstructorParameters<typeof Pool>[1]);
      },
      uri: route.uri,
      ...(authorization ? { token: authorization } : {}),
      ...(Object.keys(requestTls).length > 0 ? { requestTls } : {}),
      ...(base.secureContext ? { proxyTls: { secureContext: base.secureContext } } : {}),
      // The socket to the proxy carries the tunnel and the TLS inside it. Unref'd, an idle or
      // background tunnel never keeps the process alive; a request in the foreground is kept
      // alive by its deadline timer.
      clientFactory: (origin: URL, options: object) => {
        const { connect } = options as { connect: UnrefConnector };
        return new Pool(origin, {
          ...options,
          // A CONNECT the proxy never answers is given up after a minute, whatever the
          // request's own deadline (which already settled the caller).
          headersTimeout: 60_000,
          connect: ((connectOptions: object, callback: Parameters<UnrefConnector>[1]) =>
            connect(connectOptions, (error, socket) => {
              if (socket != null) {
                if (background) neverRef(socket);
                else socket.unref();
              }
              callback(error, socket);
            })) as unknown,
        } as ConstructorParameters<typeof Pool>[1]);
      },
    });
    evictOldest(this.#agents, MAX_AGENTS)
      ?.destroy()
      .catch(() => {});
    this.#agents.set(key, agent);
    return agent;
  }

  /** Destroys every tunnel, pooled or in use. */
  close(): void {
    for (const agent of this.#agents.values()) agent.destroy().catch(() => {});
    this.#agents.clear();
  }
}
