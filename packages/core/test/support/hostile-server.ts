import { once } from "node:events";
import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";

/** One request as the server read it off the wire. */
export interface WireRequest {
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The number of the connection it came on, from 1. */
  connection: number;
  /** The CN of the client certificate, when TLS asked for one and got it. */
  clientCertificate?: string | undefined;
}

/** Writes the answer to `request` on `socket`, raw: the handler decides every byte. */
export type WireHandler = (request: WireRequest, socket: Socket) => void;

/**
 * A loopback HTTP(S) server that parses requests itself and lets each test answer with raw
 * bytes (lies about content-length, endless bodies, bombs), and counts what went over the wire.
 */
export interface HostileServer {
  /** `http://127.0.0.1:PORT` or `https://localhost:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly requests: WireRequest[];
  /** Connections accepted, and connections the server saw closed. */
  readonly connections: { opened: number; closed: number };
  handler: WireHandler;
  /** Resolves once every accepted connection is closed. */
  allClosed(): Promise<void>;
  /** Resolves once connection number `connection` (see {@link WireRequest.connection}) is closed. */
  whenClosed(connection: number): Promise<void>;
  close(): Promise<void>;
}

export interface TlsServerOptions {
  cert: string;
  key: string;
  /** Ask for a client certificate issued by (or equal to) `ca`, and refuse connections without one. */
  clientCa?: string;
}

/** The head of a response: status line and headers, ending with the blank line. */
export function head(status: number, headers: Record<string, string | number> = {}): string {
  const lines = [`HTTP/1.1 ${status} Status${status}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** A whole response with a content-length body. */
export function respond(
  socket: Socket,
  status: number,
  body: string | Buffer = "",
  headers: Record<string, string | number> = {},
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  socket.write(head(status, { "content-length": bytes.length, ...headers }));
  socket.write(bytes);
}

function parseHead(text: string): Omit<WireRequest, "body" | "connection"> {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const [method = "", path = ""] = requestLine.split(" ");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method, path, headers };
}

/** Starts the server on 127.0.0.1; with `tls`, speaks HTTPS with that certificate. */
export async function startHostileServer(
  handler: WireHandler,
  tls?: TlsServerOptions,
): Promise<HostileServer> {
  const sockets = new Set<Socket>();
  const requests: WireRequest[] = [];
  const connections = { opened: 0, closed: 0 };
  let onAllClosed: (() => void) | undefined;
  const closed = new Map<number, Promise<void>>();
  const state = { handler };

  const onConnection = (socket: Socket): void => {
    const number = ++connections.opened;
    sockets.add(socket);
    // Not events.once: it would reject on the 'error' a reset connection emits first.
    closed.set(number, new Promise((resolve) => socket.once("close", () => resolve())));
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      connections.closed++;
      if (sockets.size === 0) onAllClosed?.();
    });
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const parsed = parseHead(buffer.subarray(0, end).toString("latin1"));
        const length = Number(parsed.headers["content-length"] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length).toString("utf8");
        buffer = buffer.subarray(end + 4 + length);
        const peer = tls ? (socket as TLSSocket).getPeerCertificate() : undefined;
        const request: WireRequest = {
          ...parsed,
          body,
          connection: number,
          clientCertificate: peer?.subject?.CN?.toString(),
        };
        requests.push(request);
        state.handler(request, socket);
      }
    });
  };

  const server: Server = tls
    ? createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.clientCa
            ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }
            : {}),
        },
        onConnection,
      )
    : createNetServer(onConnection);
  // TLS handshakes that fail (the tests that want them to) surface here.
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };

  return {
    url: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    requests,
    connections,
    get handler() {
      return state.handler;
    },
    set handler(next: WireHandler) {
      state.handler = next;
    },
    allClosed() {
      if (sockets.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onAllClosed = resolve;
      });
    },
    whenClosed(connection) {
      return closed.get(connection) ?? Promise.reject(new Error(`no connection ${connection}`));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
