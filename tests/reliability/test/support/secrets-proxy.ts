import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";

/**
 * A loopback CONNECT proxy that asks for Basic credentials and tunnels every target to one
 * 127.0.0.1 port, so a credential can be given a made-up host: it sends the name to the proxy,
 * never to a resolver, and nothing leaves the machine.
 */
export interface TunnelProxy {
  readonly url: string;
  readonly port: number;
  /** `host:port` of each CONNECT, and whether the proxy opened it. */
  readonly tunnels: Array<{ target: string; opened: boolean }>;
  close(): Promise<void>;
}

export async function startTunnelProxy(options: {
  targetPort: number;
  username: string;
  password: string;
}): Promise<TunnelProxy> {
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
  const tunnels: Array<{ target: string; opened: boolean }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((_request, response) => {
    response.writeHead(405, { "content-length": "0" }).end();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("connect", (request: IncomingMessage, client: Socket, head: Buffer) => {
    const tunnel = { target: request.url ?? "", opened: false };
    tunnels.push(tunnel);
    client.on("error", () => {});
    if (request.headers["proxy-authorization"] !== expected) {
      client.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="fedcred"\r\ncontent-length: 0\r\n\r\n',
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
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
