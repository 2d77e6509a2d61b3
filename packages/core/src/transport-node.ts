import type {
  ClientRequest,
  Agent as HttpAgent,
  IncomingHttpHeaders,
  IncomingMessage,
} from "node:http";
import type { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import { evictOldest } from "./bounded-map.js";
import { type BodyLimit, contentCodings, readEncodedBody } from "./transport-body.js";
import type { DestinationTls, TlsContexts } from "./transport-tls.js";

/** A request as a connection path sends it, its URL checked and its limits set. */
export interface OutgoingRequest {
  url: URL;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body: string | undefined;
  /** Aborts on the caller's abort, on the deadline, and once the request failed. */
  signal: AbortSignal;
  background: boolean;
  /** The deadline of the whole request; `signal` aborts when it passes. */
  timeoutInMs: number;
  tls: DestinationTls | undefined;
  limit: BodyLimit;
  /** The error for a 3xx answer. */
  redirect(status: number, location: string | null): Error;
  /** The error for whatever the connection threw. */
  failure(error: unknown): Error;
}

/** An answer with its body read whole. */
export interface ReceivedResponse {
  status: number;
  headers: { get(name: string): string | null };
  body: string;
}

/** Case-insensitive read access to a record of lower-case header names (arrays joined). */
export function recordHeaders(headers: Record<string, string | string[] | undefined>): {
  get(name: string): string | null;
} {
  return {
    get(name) {
      const value = headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
}

/** `true` for the statuses fedcred refuses to follow: every 3xx. */
export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

let httpModule: Promise<typeof import("node:http")> | undefined;
let httpsModule: Promise<typeof import("node:https")> | undefined;

const MAX_AGENTS = 8;

/** Sockets the agents destroy instead of pooling once their exchange ends. */
const notReusable = new WeakSet<object>();

/** Makes `agent` destroy the sockets in {@link notReusable} instead of pooling them. */
function refusingMarkedSockets<T extends HttpAgent>(agent: T): T {
  const pooled = agent as unknown as { keepSocketAlive(socket: object): boolean };
  const keepSocketAlive = pooled.keepSocketAlive.bind(agent);
  pooled.keepSocketAlive = (socket) => !notReusable.has(socket) && keepSocketAlive(socket);
  return agent;
}

/**
 * The keep-alive agent of every transport's https requests with Node's default TLS settings:
 * a new credential reuses the connections of the ones before it instead of paying a TLS
 * handshake for its first token. Settings of its own (a CA, a client certificate) get an agent
 * of the transport's own.
 */
let sharedHttpsAgent: HttpsAgent | undefined;

/**
 * Direct connections through `node:http` / `node:https` (loaded on first use), with one
 * keep-alive agent per TLS setting (Node's defaults: one agent shared by every transport).
 * Idle pooled sockets are unref'd by Node; a background request unrefs its socket while in use
 * too.
 */
export class NodeConnections {
  readonly #tls: TlsContexts;
  #httpAgent: HttpAgent | undefined;
  readonly #httpsAgents = new Map<string, HttpsAgent>();
  /** Sockets of the shared agent this transport used, and its requests in flight on them. */
  readonly #sharedSockets = new Set<Socket>();
  readonly #sharedRequests = new Set<ClientRequest>();

  constructor(tls: TlsContexts) {
    this.#tls = tls;
  }

  async send(request: OutgoingRequest): Promise<ReceivedResponse> {
    const secure = request.url.protocol === "https:";
    let module: typeof import("node:http") | typeof import("node:https");
    let agent: HttpAgent | HttpsAgent;
    if (secure) {
      httpsModule ??= import("node:https");
      const https = await httpsModule;
      module = https;
      agent = await this.#agentFor(https, request.tls);
    } else {
      httpModule ??= import("node:http");
      const http = await httpModule;
      module = http;
      this.#httpAgent ??= refusingMarkedSockets(new http.Agent({ keepAlive: true }));
      agent = this.#httpAgent;
    }
    request.signal.throwIfAborted();
    const { url } = request;
    const headers = { ...request.headers };
    if (request.body !== undefined || request.method === "POST") {
      headers["content-length"] = String(Buffer.byteLength(request.body ?? ""));
    }
    return new Promise<ReceivedResponse>((resolve, reject) => {
      const outgoing = module.request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers,
        agent,
        ...(secure && request.tls?.servername ? { servername: request.tls.servername } : {}),
      });
      let incoming: IncomingMessage | undefined;
      let settled = false;
      const onAbort = (): void => fail(request.signal.reason);
      function fail(error: unknown): void {
        if (settled) return;
        settled = true;
        request.signal.removeEventListener("abort", onAbort);
        // Destroying drops the connection: it never returns to the pool half read.
        incoming?.destroy();
        outgoing.destroy();
        reject(error);
      }
      request.signal.addEventListener("abort", onAbort, { once: true });
      const shared = agent === sharedHttpsAgent;
      if (shared) {
        this.#sharedRequests.add(outgoing);
        outgoing.once("close", () => this.#sharedRequests.delete(outgoing));
      }
      outgoing.on("socket", (socket) => {
        if (request.background) socket.unref();
        if (shared) this.#remember(socket);
      });
      outgoing.on("error", (error) => fail(request.failure(error)));
      outgoing.on("response", (response) => {
        incoming = response;
        const status = response.statusCode ?? 0;
        const responseHeaders = recordHeaders(response.headers as IncomingHttpHeaders);
        if (isRedirect(status)) {
          fail(request.redirect(status, responseHeaders.get("location")));
          return;
        }
        const encoding = responseHeaders.get("content-encoding");
        // Decoding can outlast the raw bytes: a compressed answer's connection must not go back
        // to the pool (and to another request) before fedcred knows the answer was acceptable.
        if (contentCodings(encoding).length > 0 && response.socket) {
          notReusable.add(response.socket);
        }
        readEncodedBody(response, encoding, request.limit).then(
          (body) => {
            if (settled) return;
            settled = true;
            request.signal.removeEventListener("abort", onAbort);
            resolve({ status, headers: responseHeaders, body });
          },
          (error: unknown) => fail(request.failure(error)),
        );
      });
      outgoing.end(request.body);
    });
  }

  async #agentFor(
    https: typeof import("node:https"),
    tls: DestinationTls | undefined,
  ): Promise<HttpsAgent> {
    const { key, secureContext } = await this.#tls.choose(tls);
    if (key === "" && secureContext === undefined) {
      sharedHttpsAgent ??= refusingMarkedSockets(new https.Agent({ keepAlive: true }));
      return sharedHttpsAgent;
    }
    let agent = this.#httpsAgents.get(key);
    if (agent === undefined) {
      evictOldest(this.#httpsAgents, MAX_AGENTS, "")?.destroy();
      agent = refusingMarkedSockets(
        new https.Agent({ keepAlive: true, ...(secureContext ? { secureContext } : {}) }),
      );
      this.#httpsAgents.set(key, agent);
    }
    return agent;
  }

  /** Remembers a socket of the shared agent (no listener: sockets outlive transports). */
  #remember(socket: Socket): void {
    if (this.#sharedSockets.has(socket)) return;
    for (const known of this.#sharedSockets) if (known.destroyed) this.#sharedSockets.delete(known);
    this.#sharedSockets.add(socket);
  }

  /**
   * Destroys every pooled and in-use socket of its own agents; of the shared agent, its own
   * requests in flight and the idle sockets it used (others' requests keep theirs).
   */
  close(): void {
    this.#httpAgent?.destroy();
    this.#httpAgent = undefined;
    for (const agent of this.#httpsAgents.values()) agent.destroy();
    this.#httpsAgents.clear();
    for (const outgoing of this.#sharedRequests) outgoing.destroy();
    this.#sharedRequests.clear();
    const idle = new Set(Object.values(sharedHttpsAgent?.freeSockets ?? {}).flat());
    for (const socket of this.#sharedSockets) if (idle.has(socket)) socket.destroy();
    this.#sharedSockets.clear();
  }
}
