import { createHook } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { describe, expect, it } from "vitest";
import { startAwsSts } from "../src/aws-sts.js";
import { startEntra } from "../src/entra.js";
import { startIdentityBindingProxy } from "../src/identity-binding-proxy.js";
import { startIssuer } from "../src/issuer.js";
import { startKubernetes } from "../src/kubernetes.js";
import { startLab } from "../src/lab.js";
import { startResource } from "../src/resource.js";
import { testTls } from "./support/tls.js";

interface Started {
  url: string;
  port: number;
  /** The TLS server name to send, when it is not `localhost`. */
  serverName?: string;
  /** The CA to trust, when it is not the run's. */
  caCertificate?: string;
  close(): Promise<void>;
}

const tls = testTls();
const tlsAuthority = {
  caCertificate: tls.ca,
  serverCertificate: tls.cert,
  serverKey: tls.key,
};

/** The handles (servers, sockets, pipes) open now and not in `before`, by type. */
function handlesLeftSince(before: Record<string, number>): Record<string, number> {
  const left: Record<string, number> = {};
  for (const [type, count] of Object.entries(openHandles())) {
    if (count > (before[type] ?? 0)) left[type] = count - (before[type] ?? 0);
  }
  return left;
}

function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    // Timers are followed by trackTimers: the runner's own come and go.
    if (type !== "Timeout" && type !== "Immediate") counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/**
 * Follows every timer created from now on, ref'd or not; `pending()` counts those neither fired
 * nor cleared. Node's HTTP `Date` header cache (a timer of under a second that Node owns) is left
 * out.
 */
function trackTimers(): { pending(): number; stop(): void } {
  const live = new Map<number, { _onTimeout?: { name?: string } }>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === "Timeout") live.set(id, resource as { _onTimeout?: { name?: string } });
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    pending: () =>
      [...live.values()].filter((timer) => timer._onTimeout?.name !== "resetCache").length,
    stop: () => hook.disable(),
  };
}

/** Waits for the event loop to settle what closing started (socket close events, destroy hooks). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The addresses a TCP port listens on, read from the kernel's socket table: proving the bind
 * without sending a packet to any address but loopback.
 */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const addresses: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== "0A" || !local?.endsWith(`:${hexPort}`)) continue;
      const hex = local.slice(0, local.indexOf(":"));
      addresses.push(
        hex.length === 8
          ? (hex.match(/../g) ?? [])
              .reverse()
              .map((byte) => Number.parseInt(byte, 16))
              .join(".")
          : hex,
      );
    }
  }
  return addresses;
}

function tryConnect(host: string, port: number): Promise<"connected" | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
  });
}

/** The port answers on 127.0.0.1 and listens on no other address. */
async function expectLoopbackOnly(port: number): Promise<void> {
  expect(await tryConnect("127.0.0.1", port)).toBe("connected");
  if (process.platform === "linux") expect(listeningAddresses(port)).toEqual(["127.0.0.1"]);
}

/**
 * A request whose headers the server has read (it answered `100 Continue`) and whose body never
 * comes: an active connection, which `server.close()` alone would wait for.
 */
function requestInFlight(server: Started, path: string): Promise<TLSSocket> {
  const { port, serverName = "localhost", caCertificate = tls.ca } = server;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: "127.0.0.1", port, servername: serverName, ca: caCertificate },
      () => {
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: localhost:${port}\r\n` +
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n" +
            "Expect: 100-continue\r\n\r\n",
        );
      },
    );
    socket.on("data", (chunk: Buffer) => {
      if (chunk.toString().startsWith("HTTP/1.1 100")) resolve(socket);
    });
    socket.on("error", reject);
  });
}

const tenantId = randomUUID();
const servers: [string, string, () => Promise<Started>][] = [
  [
    "startEntra",
    `/${tenantId}/oauth2/v2.0/token`,
    () => startEntra({ tls: { cert: tls.cert, key: tls.key } }),
  ],
  [
    "startResource",
    "/",
    () =>
      startResource({
        entra: { jwks: () => ({ keys: [] }) },
        tenantId,
        audience: "https://storage.azure.com",
        tls: { cert: tls.cert, key: tls.key },
      }),
  ],
  ["startIssuer", "/", () => startIssuer({ tls: { cert: tls.cert, key: tls.key } })],
  [
    "startKubernetes",
    "/api/v1/namespaces/default/serviceaccounts/default/token",
    () => startKubernetes({ tlsAuthority }),
  ],
  ["startAwsSts", "/", () => startAwsSts({ accounts: [], tlsAuthority })],
  [
    "startIdentityBindingProxy",
    `/identity-binding/${tenantId}/oauth2/v2.0/token`,
    // The request never gets past its body, so the target is never dialled.
    () => startIdentityBindingProxy({ target: "https://127.0.0.1:9" }),
  ],
];

describe("every server", () => {
  it.each(servers)(
    "%s binds 127.0.0.1 only, and close() ends a request in flight and leaves nothing open",
    async (_name, path, start) => {
      const before = openHandles();
      const timers = trackTimers();
      try {
        const server = await start();
        await expectLoopbackOnly(server.port);
        const socket = await requestInFlight(server, path);
        const clientSideClosed = new Promise<void>((resolve) =>
          socket.once("close", () => resolve()),
        );
        await server.close();
        // The server ended the connection: the client never finished its request nor closed it.
        await clientSideClosed;
        await settle();
        expect(handlesLeftSince(before)).toEqual({});
        expect(timers.pending()).toBe(0);
      } finally {
        timers.stop();
      }
    },
  );

  it("startEntra's close() also cuts short a delayed fault, leaving no timer behind", async () => {
    const before = openHandles();
    const timers = trackTimers();
    try {
      const entra = await startEntra({ tls: { cert: tls.cert, key: tls.key } });
      entra.injectFault({ kind: "delay", delayMs: 60_000 });
      const answer = new Promise<unknown>((resolve) => {
        const outgoing = request(
          entra.tokenEndpoint(tenantId),
          {
            method: "POST",
            agent: false,
            ca: tls.ca,
            headers: { "content-type": "application/x-www-form-urlencoded" },
          },
          (response) => resolve(response.statusCode),
        );
        outgoing.on("error", resolve);
        outgoing.end("grant_type=client_credentials");
      });
      while (entra.faults.queued.length > 0) await new Promise((resolve) => setImmediate(resolve));
      expect(timers.pending()).toBeGreaterThan(0);
      await entra.close();
      expect(await answer).toBeInstanceOf(Error);
      await settle();
      expect(handlesLeftSince(before)).toEqual({});
      expect(timers.pending()).toBe(0);
    } finally {
      timers.stop();
    }
  });

  it("startLab binds every server to 127.0.0.1, and close() stops them and the token rotation", async () => {
    const before = openHandles();
    const timers = trackTimers();
    try {
      const lab = await startLab({ tlsAuthority });
      for (const server of [lab.entra, lab.resource, lab.issuer, lab.kubernetes, lab.sts]) {
        await expectLoopbackOnly(server.port);
      }
      expect(timers.pending()).toBeGreaterThan(0);
      await lab.close();
      await settle();
      expect(handlesLeftSince(before)).toEqual({});
      expect(timers.pending()).toBe(0);
    } finally {
      timers.stop();
    }
  }, 20_000);
});
