import { randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/**
 * A request handler of an emulated service.
 *
 * @example
 * ```ts
 * const handler: Handler = (request, response) => {
 *   response.end("ok");
 * };
 * ```
 */
export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/**
 * Options shared by every emulated server: where it listens and, for HTTPS, its key pair.
 *
 * @example
 * ```ts
 * const options: ListenOptions = { host: "127.0.0.1", port: 0, tls: { cert, key } };
 * ```
 */
export interface ListenOptions {
  /** Host to bind. Defaults to `127.0.0.1`; the emulator never binds anything else by default. */
  host?: string;
  /** Port to bind. Defaults to `0`: a free port chosen by the system. */
  port?: number;
  /** PEM certificate and key: when given the server speaks HTTPS. */
  tls?: { cert: string; key: string };
}

/**
 * A running HTTP(S) server on loopback.
 *
 * @example
 * ```ts
 * const server: RunningServer = await startIssuer();
 * console.log(server.url, server.port);
 * await server.close();
 * ```
 */
export interface RunningServer {
  /** `http://127.0.0.1:PORT` or `https://localhost:PORT` (TLS servers use the name on their certificate). */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends every open connection. */
  close(): Promise<void>;
}

/** Wraps `handler` so a failure answers 500 JSON instead of leaving the request hanging. */
export function answerFailures(
  handler: Handler,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    Promise.resolve()
      .then(() => handler(request, response))
      .catch((error: unknown) => {
        if (!response.headersSent) {
          response.writeHead(500, { "content-type": "application/json" });
        }
        response.end(JSON.stringify({ error: "emulator_failure", message: String(error) }));
      });
  };
}

/**
 * Listens with `server` on `host:port` and tracks its sockets (handshakes included), so `close()`
 * never hangs on keep-alive connections or requests in flight.
 */
export async function serve(
  server: Server,
  host: string,
  port: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  server.on("connection", track);
  server.on("secureConnection", track);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Starts `handler` on loopback and tracks sockets so `close()` never hangs on keep-alive connections. */
export async function listen(
  handler: Handler,
  options: ListenOptions = {},
): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const wrapped = answerFailures(handler);
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, wrapped)
    : createHttpServer(wrapped);
  const { port, close } = await serve(server, host, options.port ?? 0);
  const url = options.tls ? `https://localhost:${port}` : `http://${host}:${port}`;
  return { url, port, close };
}

/** Reads a whole request body as bytes (bounded to 1 MiB, as real services bound theirs). */
export async function readBodyBytes(
  request: IncomingMessage,
  limit: number = 1024 * 1024,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Reads a whole request body as text (bounded to 1 MiB, as real services bound theirs). */
export async function readBody(
  request: IncomingMessage,
  limit: number = 1024 * 1024,
): Promise<string> {
  return (await readBodyBytes(request, limit)).toString("utf8");
}

/** Sends a JSON answer. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** A fresh GUID, as Entra uses for trace and correlation ids. */
export function newId(): string {
  return randomUUID();
}
