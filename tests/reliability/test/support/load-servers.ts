import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";

/** One request a loopback server received, as it arrived. */
export interface ReceivedRequest {
  method: string;
  /** The request target exactly as sent (`request.url`): path and query, undecoded. */
  target: string;
  host: string | undefined;
  /** The form body, decoded. */
  form: Record<string, string>;
}

/** What a {@link RecordingServer} answers one request with. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** A token answer a credential accepts. */
export function tokenAnswer(accessToken = "reliability-access-token-0123456789"): Answer {
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token_type: "Bearer", expires_in: 3599, access_token: accessToken }),
  };
}

/** A loopback HTTP server that records every request and answers what the test says. */
export interface RecordingServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** What the next requests are answered with (default: {@link tokenAnswer}). */
  answer: (request: ReceivedRequest) => Answer;
  close(): Promise<void>;
}

function trackSockets(server: {
  on(event: "connection", listener: (socket: Socket) => void): unknown;
}): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return sockets;
}

async function readAll(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: ReceivedRequest[] = [];
  const state: RecordingServer = {
    url: "",
    requests,
    answer: () => tokenAnswer(),
    close: async () => {},
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void readAll(request).then((body) => {
      const received: ReceivedRequest = {
        method: request.method ?? "",
        target: request.url ?? "",
        host: request.headers.host,
        form: Object.fromEntries(new URLSearchParams(body)),
      };
      requests.push(received);
      let answer: Answer;
      try {
        answer = state.answer(received);
      } catch (error) {
        answer = { status: 599, body: String(error) };
      }
      response.writeHead(answer.status, answer.headers ?? {});
      response.end(answer.body === undefined ? undefined : Buffer.from(answer.body));
    });
  });
  const sockets = trackSockets(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  });
}

/**
 * A loopback HTTP proxy that records every request it gets (CONNECT tunnels and plain ones)
 * and refuses them all with 403: set as `HTTPS_PROXY` / `HTTP_PROXY`, it shows whether a
 * credential tried to reach anything that is not loopback.
 */
export interface RecordingProxy {
  readonly url: string;
  /** `CONNECT host:port` or `METHOD url`, in order. */
  readonly requests: string[];
  /** The `Proxy-Authorization` headers sent with them. */
  readonly authorizations: string[];
  close(): Promise<void>;
}

export async function startRecordingProxy(): Promise<RecordingProxy> {
  const requests: string[] = [];
  const authorizations: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const authorization = request.headers["proxy-authorization"];
    if (authorization) authorizations.push(authorization);
    response.writeHead(403, { "content-length": "0" }).end();
  });
  server.on("connect", (request: IncomingMessage, socket: Socket) => {
    requests.push(`CONNECT ${request.url}`);
    const authorization = request.headers["proxy-authorization"];
    if (authorization) authorizations.push(authorization);
    socket.on("error", () => {});
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
  });
  const sockets = trackSockets(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    authorizations,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A loopback TCP server that answers every connection with raw bytes, then closes it. */
export interface RawServer {
  readonly url: string;
  /** What the next connections get. */
  bytes: Uint8Array;
  connections: number;
  close(): Promise<void>;
}

export async function startRawServer(): Promise<RawServer> {
  const state = { url: "", bytes: new Uint8Array(), connections: 0, close: async () => {} };
  const server = createNetServer((socket) => {
    state.connections++;
    socket.on("error", () => {});
    // Once the request is in: a server that answers before reading may see a reset instead.
    socket.once("data", () => socket.end(Buffer.from(state.bytes)));
  });
  const sockets = trackSockets(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  });
}

/** Sets the proxy variables to `url` (all of them, both cases) until the returned function runs. */
export function proxyEnvironment(url: string): () => void {
  const names = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
  ];
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) {
    if (/no_proxy/i.test(name)) delete process.env[name];
    else process.env[name] = url;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
