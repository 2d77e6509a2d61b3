import { once } from "node:events";
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";

/** A CONNECT request the proxy received. */
export interface Tunnel {
  /** `host:port` as the client asked for it. */
  target: string;
  /** The `Proxy-Authorization` header, if any. */
  authorization: string | undefined;
  /** Whether the proxy opened it. */
  opened: boolean;
}

/**
 * A loopback CONNECT proxy that tunnels every target to one 127.0.0.1 port, so tests can give
 * the client a made-up host name: the client does not resolve a name it sends through a proxy,
 * and nothing leaves the machine.
 */
export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly tunnels: Tunnel[];
  /** Requests that were not CONNECT (answered 405). */
  readonly plainRequests: string[];
  close(): Promise<void>;
}

export interface ConnectProxyOptions {
  /** The 127.0.0.1 port every tunnel leads to. */
  targetPort: number;
  /** When set, tunnels need `Proxy-Authorization: Basic base64(username:password)`; else 407. */
  credentials?: { username: string; password: string };
  /** Answer every CONNECT with this status instead of opening the tunnel. */
  refuseWith?: number;
}

export async function startConnectProxy(options: ConnectProxyOptions): Promise<ConnectProxy> {
  const tunnels: Tunnel[] = [];
  const plainRequests: string[] = [];
  const sockets = new Set<Socket>();
  const expected = options.credentials
    ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString("base64")}`
    : undefined;
  const server = createServer((request, response) => {
    plainRequests.push(`${request.method} ${request.url}`);
    response.writeHead(405).end();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("connect", (request, client: Socket, head: Buffer) => {
    const tunnel: Tunnel = {
      target: request.url ?? "",
      authorization: request.headers["proxy-authorization"],
      opened: false,
    };
    tunnels.push(tunnel);
    client.on("error", () => {});
    if (options.refuseWith !== undefined) {
      client.end(`HTTP/1.1 ${options.refuseWith} Refused\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    if (expected !== undefined && tunnel.authorization !== expected) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n',
      );
      return;
    }
    const upstream = connect(options.targetPort, "127.0.0.1", () => {
      tunnel.opened = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tunnels,
    plainRequests,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
