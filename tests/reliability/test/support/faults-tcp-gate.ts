import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * What a {@link TcpGate} does with a new connection:
 * - `pass`: pipes it to the target (TLS and HTTP go through untouched);
 * - `hold`: accepts it and never answers (a server that hangs before the TLS handshake);
 * - `reset`: destroys it at once (a server that is down behind its load balancer).
 */
export type GateMode = "pass" | "hold" | "reset";

/**
 * A loopback TCP gate in front of an emulated server (the Kubernetes API, STS): it forwards,
 * holds or resets connections, and counts them, so a test can take a source down, make it hang,
 * and see that a client closed every connection it opened.
 */
export interface TcpGate {
  /** `127.0.0.1:PORT`'s port: point the client here instead of at the target. */
  readonly port: number;
  mode: GateMode;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections still open (client side). */
  readonly open: number;
  /** Connections still open among those accepted after the first `accepted` ones (a mark taken earlier). */
  openSince(accepted: number): number;
  close(): Promise<void>;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  const sockets = new Map<Socket, number>();
  let accepted = 0;
  const gate = {
    mode: "pass" as GateMode,
  };
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.set(socket, accepted);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (gate.mode === "reset") {
      socket.resetAndDestroy();
      return;
    }
    // Read and drop what the client sends, so its close is seen.
    if (gate.mode === "hold") {
      socket.resume();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    upstream.on("error", () => socket.destroy());
    socket.on("close", () => upstream.destroy());
    upstream.on("close", () => socket.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return Object.defineProperties(gate, {
    port: { value: port },
    accepted: { get: () => accepted },
    open: { get: () => sockets.size },
    openSince: {
      value: (mark: number) => [...sockets.values()].filter((number) => number > mark).length,
    },
    close: {
      value: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets.keys()) socket.destroy();
        }),
    },
  }) as TcpGate;
}
