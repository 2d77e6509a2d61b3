import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { Socket } from "node:net";

/** What a stand-in server does with a request: answers it, never answers, or resets the connection. */
export type LoopbackAnswer =
  | { status: number; headers?: Record<string, string>; body: string }
  | "silent"
  | "reset";

/** A request a stand-in server received. */
export interface LoopbackRequest {
  method: string;
  path: string;
  /** The form parameters of the body (STS's query protocol). */
  form: Record<string, string>;
}

/** An HTTP(S) server on 127.0.0.1 playing what is not the emulated STS: a proxy, a hung endpoint. */
export interface LoopbackServer {
  url: string;
  readonly requests: readonly LoopbackRequest[];
  close(): Promise<void>;
}

export async function startLoopbackServer(
  answer: (request: LoopbackRequest) => LoopbackAnswer,
  options: { tls?: { cert: string; key: string } } = {},
): Promise<LoopbackServer> {
  const requests: LoopbackRequest[] = [];
  const sockets = new Set<Socket>();
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const received: LoopbackRequest = {
        method: request.method ?? "",
        path: request.url ?? "",
        form: Object.fromEntries(new URLSearchParams(body)),
      };
      requests.push(received);
      const reply = answer(received);
      if (reply === "silent") return;
      if (reply === "reset") {
        request.socket.resetAndDestroy();
        return;
      }
      response.writeHead(reply.status, reply.headers ?? {});
      response.end(reply.body);
    });
  };
  const server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** STS's query-protocol error document, as STS (and the emulator) send it. */
export function stsErrorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>`;
}
