import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { createTlsAuthority } from "@fedcred/emulator";

/** An https server on 127.0.0.1 whose CA nobody trusts; it counts the connections it accepts. */
export async function startEntra(): Promise<{
  url: string;
  connections(): number;
  close(): Promise<void>;
}> {
  const authority = await createTlsAuthority("untrusted test CA");
  let connections = 0;
  const server = createServer(
    { cert: authority.serverCertificate, key: authority.serverKey },
    (_request, response) => response.end("{}"),
  );
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
