import { once } from "node:events";
import type { Socket } from "node:net";
import {
  brotliCompressSync,
  constants,
  createBrotliCompress,
  createGzip,
  deflateSync,
  gzipSync,
} from "node:zlib";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import {
  createSelfSignedCertificate,
  createTlsAuthority,
  type SelfSignedCertificate,
  type TlsAuthority,
} from "@fedcred/emulator";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuthenticationError, CredentialUnavailableError } from "../src/errors.js";
import type { HttpClientLike } from "../src/options.js";
import {
  createTransport,
  type FetchLike,
  type HttpRequest,
  isRetryableTransportError,
  type Transport,
  type TransportOptions,
} from "../src/transport.js";
import {
  type HostileServer,
  head,
  respond,
  startHostileServer,
  type TlsServerOptions,
  type WireHandler,
} from "./support/hostile-server.js";

const KiB = 1024;
const MiB = 1024 * KiB;

// globalThis.fetch is a FetchLike: checked by the type checker.
const globalFetch: FetchLike = globalThis.fetch;

const servers: HostileServer[] = [];
const transports: Transport[] = [];

afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(handler: WireHandler, tls?: TlsServerOptions): Promise<HostileServer> {
  const server = await startHostileServer(handler, tls);
  servers.push(server);
  return server;
}

function transport(options?: TransportOptions): Transport {
  const created = createTransport({ env: {}, ...options });
  transports.push(created);
  return created;
}

function get(url: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return { url, method: "GET", timeoutInMs: 5_000, maxBodyBytes: MiB, ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise;
  } catch (error) {
    return error as AuthenticationError;
  }
  throw new Error("expected a rejection, got an answer");
}

/** Writes `chunk` for as long as the peer reads, until the connection closes. */
function pumpForever(socket: Socket, chunk: Buffer, sent = { bytes: 0 }): { bytes: number } {
  const pump = (): void => {
    while (!socket.destroyed) {
      sent.bytes += chunk.length;
      if (!socket.write(chunk)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
  return sent;
}

/** Writes one byte every `intervalMs` until the connection closes. */
function trickle(socket: Socket, intervalMs: number): void {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write("x");
  }, intervalMs);
  socket.once("close", () => clearInterval(timer));
}

async function compressZeros(
  compressor: ReturnType<typeof createGzip>,
  decodedBytes: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  compressor.on("data", (chunk: Buffer) => chunks.push(chunk));
  const zeros = Buffer.alloc(MiB);
  for (let written = 0; written < decodedBytes; written += zeros.length) {
    if (!compressor.write(zeros)) await once(compressor, "drain");
  }
  compressor.end();
  await once(compressor, "end");
  return Buffer.concat(chunks);
}

/** Runs `work` while sampling the resident set size; returns the largest growth seen. */
async function peakRssGrowth(work: () => Promise<unknown>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage().rss) - before;
}

function activeResources(type: string): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === type).length;
}

/** Waits until sockets and timers of earlier tests are gone (their counts stay still). */
async function settled(): Promise<void> {
  let last = "";
  for (let stable = 0; stable < 5; ) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = process.getActiveResourcesInfo().sort().join();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

let authority: TlsAuthority;
let otherAuthority: TlsAuthority;
let clientCertificate: SelfSignedCertificate;
let gzipBomb: Buffer;

beforeAll(async () => {
  [authority, otherAuthority, clientCertificate, gzipBomb] = await Promise.all([
    createTlsAuthority("fedcred transport test CA"),
    createTlsAuthority("some other CA"),
    createSelfSignedCertificate({ commonName: "workload" }),
    compressZeros(createGzip({ level: 9 }), 256 * MiB),
  ]);
}, 60_000);

function tlsServer(): TlsServerOptions {
  return { cert: authority.serverCertificate, key: authority.serverKey };
}

describe("redirects", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`refuses a ${status} and sends nothing to its Location`, async () => {
      const elsewhere = await serve((_request, socket) => respond(socket, 200, "{}"));
      const server = await serve((_request, socket) =>
        respond(socket, status, "", { location: `${elsewhere.url}/steal?code=s3cr3t` }),
      );
      const error = await rejection(
        transport().send({
          ...get(`${server.url}/tenant/oauth2/v2.0/token?x=1`),
          method: "POST",
          body: "client_assertion=eyJ",
          clientRequestId: "req-1",
        }),
      );
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.code).toBe("redirect_refused");
      expect(error.statusCode).toBe(status);
      expect(error.clientRequestId).toBe("req-1");
      expect(error.message).toBe(
        `The request to ${server.url}/tenant/oauth2/v2.0/token was answered ${status} with a redirect to ${elsewhere.url}; fedcred never follows redirects, so nothing was sent there: point the URL at the endpoint itself (check authorityHost and any proxy in between).`,
      );
      expect(error.message).not.toMatch(/steal|s3cr3t|x=1/);
      expect(isRetryableTransportError(error)).toBe(false);
      expect(server.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
      expect(elsewhere.connections.opened).toBe(0);
    });
  }

  it("refuses an https answer that redirects to plain http", async () => {
    const elsewhere = await serve((_request, socket) => respond(socket, 200, "{}"));
    const server = await serve(
      (_request, socket) => respond(socket, 302, "", { location: `${elsewhere.url}/t?p=1` }),
      tlsServer(),
    );
    const error = await rejection(
      transport({ tlsOptions: { ca: authority.caCertificate } }).send(get(`${server.url}/token`)),
    );
    expect(error.code).toBe("redirect_refused");
    expect(error.message).toContain(`answered 302 with a redirect to ${elsewhere.url};`);
    expect(elsewhere.connections.opened).toBe(0);
  });

  it("says so when a 3xx has no Location, and names only the origin of a relative one", async () => {
    const server = await serve((request, socket) =>
      request.path === "/none"
        ? respond(socket, 302)
        : respond(socket, 307, "", { location: "/other/path?secret=1" }),
    );
    const none = await rejection(transport().send(get(`${server.url}/none`)));
    expect(none.message).toContain("was answered 302 with no Location header;");
    const relative = await rejection(transport().send(get(`${server.url}/relative`)));
    expect(relative.message).toContain(`with a redirect to ${server.url};`);
    expect(relative.message).not.toContain("secret");
  });

  it("never prints user info of a Location", async () => {
    const server = await serve((_request, socket) =>
      respond(socket, 301, "", { location: "https://user:hunter2@evil.example/x" }),
    );
    const error = await rejection(transport().send(get(`${server.url}/x`)));
    expect(error.message).toContain("with a redirect to https://evil.example;");
    expect(error.message).not.toContain("hunter2");
  });
});

describe("body cap", () => {
  it("stops a gzip bomb at the cap on decoded bytes, drops the connection, keeps memory bounded", async () => {
    expect(gzipBomb.length).toBeLessThan(1 * MiB);
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-encoding": "gzip", "content-length": gzipBomb.length }));
      socket.write(gzipBomb);
    });
    let error: AuthenticationError | undefined;
    const growth = await peakRssGrowth(async () => {
      error = await rejection(
        transport().send(get(`${server.url}/token`, { clientRequestId: "b" })),
      );
    });
    expect(error?.code).toBe("invalid_token_response");
    expect(error?.message).toBe(
      `The answer of ${server.url}/token exceeded 1 MiB decoded; fedcred stopped reading it and dropped the connection.`,
    );
    expect(error?.clientRequestId).toBe("b");
    expect(isRetryableTransportError(error)).toBe(false);
    expect(server.requests).toHaveLength(1);
    await server.allClosed();
    expect(server.connections.closed).toBe(1);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it("stops a brotli bomb as well", async () => {
    const quality = { [constants.BROTLI_PARAM_QUALITY]: 4 };
    const bomb = await compressZeros(createBrotliCompress({ params: quality }) as never, 64 * MiB);
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-encoding": "br", "content-length": bomb.length }));
      socket.write(bomb);
    });
    const error = await rejection(
      transport().send(get(`${server.url}/t`, { maxBodyBytes: 64 * KiB })),
    );
    expect(error.message).toContain("exceeded 64 KiB decoded");
    await server.allClosed();
  });

  it("stops an endless body and drops the connection", async () => {
    let sent = { bytes: 0 };
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-type": "application/json" }));
      sent = pumpForever(socket, Buffer.alloc(64 * KiB, "a"));
    });
    let error: AuthenticationError | undefined;
    const growth = await peakRssGrowth(async () => {
      error = await rejection(transport().send(get(`${server.url}/t`)));
    });
    expect(error?.code).toBe("invalid_token_response");
    expect(error?.message).toContain("exceeded 1 MiB decoded");
    expect(server.requests).toHaveLength(1);
    await server.allClosed();
    // The client stopped reading: the server could not push much more than the cap.
    expect(sent.bytes).toBeLessThan(16 * MiB);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it("accepts a body of exactly the cap and refuses one byte more", async () => {
    const server = await serve((request, socket) =>
      respond(socket, 200, "a".repeat(request.path === "/exact" ? 1000 : 1001)),
    );
    const answer = await transport().send(get(`${server.url}/exact`, { maxBodyBytes: 1000 }));
    expect(answer.body).toHaveLength(1000);
    const error = await rejection(
      transport().send(get(`${server.url}/over`, { maxBodyBytes: 1000 })),
    );
    expect(error.message).toContain("exceeded 1000 bytes decoded");
  });

  it("trusts no content-length: a claim of 10 GiB with 2 bytes sent fails as a broken connection", async () => {
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-length": 10 * 1024 * MiB }));
      socket.end("{}");
    });
    let error: AuthenticationError | undefined;
    const growth = await peakRssGrowth(async () => {
      error = await rejection(transport().send(get(`${server.url}/t`)));
    });
    expect(error?.code).toBe("token_request_failed");
    expect(error?.message).toContain(`The request to ${server.url}/t failed: ECONNRESET`);
    expect(isRetryableTransportError(error)).toBe(true);
    expect(growth).toBeLessThan(50 * MiB);
  });

  it("trusts no content-length: bytes past the claimed length are never part of the body", async () => {
    const server = await serve((_request, socket) => {
      socket.end(`${head(200, { "content-length": 5 })}hello world`);
    });
    // Node's parser reads 5 bytes, then finds " world" where the next answer should start.
    const outcome = await transport()
      .send(get(`${server.url}/t`))
      .then(
        (answer) => answer.body,
        (error: AuthenticationError) => error.message,
      );
    expect([
      "hello",
      `The request to ${server.url}/t failed: HPE_INVALID_CONSTANT (not valid HTTP).`,
    ]).toContain(outcome);
  });

  it("decodes gzip, deflate, br and stacked codings", async () => {
    const json = JSON.stringify({ access_token: "é".repeat(100), expires_in: 3599 });
    const bodies: Record<string, [string, Buffer]> = {
      "/gzip": ["gzip", gzipSync(json)],
      "/deflate": ["deflate", deflateSync(json)],
      "/br": ["br", brotliCompressSync(json)],
      "/stacked": ["deflate, gzip", gzipSync(deflateSync(json))],
      "/identity": ["identity", Buffer.from(json)],
    };
    const server = await serve((request, socket) => {
      const [encoding, body] = bodies[request.path] ?? ["", Buffer.alloc(0)];
      respond(socket, 200, body, { "content-encoding": encoding });
    });
    const client = transport();
    for (const path of Object.keys(bodies)) {
      const answer = await client.send(get(`${server.url}${path}`));
      expect(answer.body, path).toBe(json);
    }
    // A compressed answer's connection is closed, never pooled; an identity one is kept.
    expect(server.connections.opened).toBe(5);
    await client.send(get(`${server.url}/identity`));
    expect(server.connections.opened).toBe(5);
    expect(server.connections.closed).toBe(4);
  });

  it("refuses a coding it does not know and bytes that do not decode, without retrying", async () => {
    const server = await serve((request, socket) =>
      request.path === "/compress"
        ? respond(socket, 200, "xyz", { "content-encoding": "compress" })
        : respond(socket, 200, "not gzip at all", { "content-encoding": "gzip" }),
    );
    const unknown = await rejection(transport().send(get(`${server.url}/compress`)));
    expect(unknown.code).toBe("invalid_token_response");
    expect(unknown.message).toContain('content-encoding "compress", and fedcred decodes only');
    const corrupt = await rejection(transport().send(get(`${server.url}/corrupt`)));
    expect(corrupt.code).toBe("invalid_token_response");
    expect(corrupt.message).toContain(
      'content-encoding "gzip", and it does not decode (Z_DATA_ERROR)',
    );
    expect(isRetryableTransportError(corrupt)).toBe(false);
  });
});

describe("deadline", () => {
  it("covers the body: headers then a trickle fail after timeoutInMs", async () => {
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-length": 100_000 }));
      trickle(socket, 20);
    });
    const started = performance.now();
    const error = await rejection(
      transport().send(get(`${server.url}/token`, { timeoutInMs: 300, clientRequestId: "t" })),
    );
    const elapsed = performance.now() - started;
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toBe(`The request to ${server.url}/token timed out after 300 ms.`);
    expect(error.clientRequestId).toBe("t");
    expect(isRetryableTransportError(error)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(10_000);
    await server.allClosed();
  });

  it("covers the headers: a server that never answers", async () => {
    const server = await serve(() => {});
    const error = await rejection(transport().send(get(`${server.url}/t`, { timeoutInMs: 200 })));
    expect(error.message).toContain("timed out after 200 ms");
    await server.allClosed();
  });

  it("clears its timer once the request settles", { retry: 2 }, async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "{}"));
    const client = transport();
    await client.send(get(`${server.url}/warm`));
    const timers = activeResources("Timeout");
    await client.send(get(`${server.url}/t`, { timeoutInMs: 60_000 }));
    expect(activeResources("Timeout")).toBe(timers);
  });

  it("a background request holds no ref'd socket or timer, a foreground one does", {
    retry: 2,
  }, async () => {
    const server = await serve(() => {});
    const client = transport();
    const abort = new AbortController();
    const pending: Array<Promise<unknown>> = [];
    try {
      await settled();
      const before = {
        sockets: activeResources("TCPSocketWrap"),
        timers: activeResources("Timeout"),
      };
      pending.push(
        client.send(get(`${server.url}/fg`, { timeoutInMs: 30_000, signal: abort.signal })),
      );
      await until(() => server.requests.length === 1);
      const foreground = {
        sockets: activeResources("TCPSocketWrap") - before.sockets,
        timers: activeResources("Timeout") - before.timers,
      };
      pending.push(
        client.send(
          get(`${server.url}/bg`, { timeoutInMs: 30_000, background: true, signal: abort.signal }),
        ),
      );
      await until(() => server.requests.length === 2);
      const background = {
        sockets: activeResources("TCPSocketWrap") - before.sockets - foreground.sockets,
        timers: activeResources("Timeout") - before.timers - foreground.timers,
      };
      // Foreground: the server's end, the client's end, the deadline. Background: the server's end.
      expect(foreground).toEqual({ sockets: 2, timers: 1 });
      expect(background).toEqual({ sockets: 1, timers: 0 });
    } finally {
      abort.abort();
      await Promise.allSettled(pending);
    }
  });
});

describe("abort", () => {
  it("rejects at once, connecting nowhere, when the signal is already aborted", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "{}"));
    const error = await rejection(
      transport().send(get(`${server.url}/t`, { signal: AbortSignal.abort() })),
    );
    expect(error.name).toBe("AbortError");
    expect(server.connections.opened).toBe(0);
  });

  it("rejects with the abort reason while waiting for headers, and drops the connection", async () => {
    const server = await serve(() => {});
    const abort = new AbortController();
    const pending = transport().send(get(`${server.url}/t`, { signal: abort.signal }));
    await until(() => server.requests.length === 1);
    const reason = new Error("credential closed");
    abort.abort(reason);
    expect(await rejection(pending)).toBe(reason);
    await server.allClosed();
  });

  it("rejects with an AbortError while reading the body", async () => {
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-length": 1000 }));
      trickle(socket, 10);
    });
    const abort = new AbortController();
    const pending = transport().send(get(`${server.url}/t`, { signal: abort.signal }));
    await until(() => server.requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    const error = await rejection(pending);
    expect(error.name).toBe("AbortError");
    expect(isRetryableTransportError(error)).toBe(false);
    await server.allClosed();
  });
});

describe("URLs", () => {
  it("refuses plain http to any host but a literal loopback one, before connecting", async () => {
    for (const url of [
      "http://login.microsoftonline.com/t/oauth2/v2.0/token",
      "http://10.0.0.1/token",
      "http://localhost.evil.example/token",
      "http://127.0.0.1.nip.io/token",
    ]) {
      const error = await rejection(transport().send(get(url)));
      expect(error, url).toBeInstanceOf(CredentialUnavailableError);
      expect(error.code).toBe("invalid_configuration");
      expect(error.message).toContain("fedcred sends plain http only to loopback hosts");
    }
  });

  it("refuses other schemes and URLs with user info", async () => {
    for (const url of ["ftp://example.com/x", "file:///etc/passwd", "ws://localhost/x"]) {
      const error = await rejection(transport().send(get(url)));
      expect(error.code, url).toBe("invalid_configuration");
    }
    const error = await rejection(transport().send(get("https://user:pw@example.com/x")));
    expect(error.message).toBe(
      "The URL of https://example.com/x must not hold a user name or password.",
    );
  });

  it("sends plain http to localhost", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "ok"));
    const answer = await transport().send(get(`http://localhost:${server.port}/x`));
    expect(answer.body).toBe("ok");
  });
});

describe("what goes over the wire", () => {
  it("sends the method, path, query, headers and body as given, and answers status and headers", async () => {
    const server = await serve((_request, socket) =>
      respond(socket, 400, '{"error":"invalid_client"}', {
        "retry-after": "7",
        "x-ms-request-id": "abc",
      }),
    );
    const answer = await transport().send({
      ...get(`${server.url}/tenant/oauth2/v2.0/token?api-version=1`),
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "client-request-id": "id-1" },
      body: "grant_type=client_credentials&scope=a%20b",
    });
    expect(answer.status).toBe(400);
    expect(answer.headers.get("Retry-After")).toBe("7");
    expect(answer.headers.get("x-missing")).toBeNull();
    expect(answer.body).toBe('{"error":"invalid_client"}');
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/tenant/oauth2/v2.0/token?api-version=1");
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request?.headers["client-request-id"]).toBe("id-1");
    expect(request?.headers["content-length"]).toBe("41");
    expect(request?.body).toBe("grant_type=client_credentials&scope=a%20b");
  });

  it("keeps one connection alive across requests, and close() drops it", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "{}"));
    const client = transport();
    for (let i = 0; i < 3; i++) await client.send(get(`${server.url}/t`));
    expect(server.connections.opened).toBe(1);
    expect(server.connections.closed).toBe(0);
    client.close();
    await server.allClosed();
    expect(server.connections.closed).toBe(1);
  });
});

describe("network failures", () => {
  async function closedPort(): Promise<number> {
    const server = await startHostileServer(() => {});
    const { port } = server;
    await server.close();
    return port;
  }

  it("a refused connection is retryable and names the URL (no query) and the code", async () => {
    const port = await closedPort();
    const error = await rejection(
      transport().send(
        get(`http://127.0.0.1:${port}/t/oauth2/v2.0/token?secret=1`, { clientRequestId: "n" }),
      ),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toBe(
      `The request to http://127.0.0.1:${port}/t/oauth2/v2.0/token failed: ECONNREFUSED (connection refused).`,
    );
    expect(error.clientRequestId).toBe("n");
    expect(isRetryableTransportError(error)).toBe(true);
  });

  it("a connection dropped before the answer is retryable", async () => {
    const server = await serve((_request, socket) => socket.destroy());
    const error = await rejection(transport().send(get(`${server.url}/t`)));
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toContain("failed: ECONNRESET (connection reset).");
    expect(isRetryableTransportError(error)).toBe(true);
  });

  it("errors that are not the transport's are not retryable", () => {
    expect(isRetryableTransportError(new Error("x"))).toBe(false);
    expect(isRetryableTransportError(new AuthenticationError("x", "token_request_failed"))).toBe(
      false,
    );
    expect(isRetryableTransportError(undefined)).toBe(false);
  });
});

describe("TLS", () => {
  it("an untrusted CA is a tls_error that says to trust it, and no request is sent", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "{}"), tlsServer());
    const error = await rejection(
      transport().send(get(`${server.url}/t`, { clientRequestId: "c" })),
    );
    expect(error.code).toBe("tls_error");
    expect(error.message).toBe(
      `The TLS certificate of ${server.url} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): if the server uses a private or corporate CA, trust it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem or tlsOptions.ca.`,
    );
    expect(error.clientRequestId).toBe("c");
    expect(isRetryableTransportError(error)).toBe(false);
    expect(server.requests).toHaveLength(0);
  });

  it("tlsOptions.ca adds a CA; a destination's own ca replaces the trusted ones", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "secure"), tlsServer());
    const client = transport({ tlsOptions: { ca: authority.caCertificate } });
    expect((await client.send(get(`${server.url}/t`))).body).toBe("secure");
    const error = await rejection(
      client.send(get(`${server.url}/t`, { tls: { ca: otherAuthority.caCertificate } })),
    );
    expect(error.code).toBe("tls_error");
    const own = transport();
    const answer = await own.send(
      get(`${server.url}/t`, { tls: { ca: [authority.caCertificate] } }),
    );
    expect(answer.body).toBe("secure");
  });

  it("a certificate that does not name the host is a tls_error naming the name", async () => {
    const server = await serve((_request, socket) => respond(socket, 200, "{}"), tlsServer());
    const error = await rejection(
      transport({ tlsOptions: { ca: authority.caCertificate } }).send(
        get(`${server.url}/t`, { tls: { servername: "login.wrong.example" } }),
      ),
    );
    expect(error.code).toBe("tls_error");
    expect(error.message).toBe(
      `The TLS certificate of ${server.url} does not name login.wrong.example (ERR_TLS_CERT_ALTNAME_INVALID): point the URL at a host name the certificate lists (check authorityHost, and servername where one is set).`,
    );
    expect(server.requests).toHaveLength(0);
  });

  it("an expired certificate says to check the clock", async () => {
    const expired = await createSelfSignedCertificate({
      commonName: "localhost",
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const server = await serve((_request, socket) => respond(socket, 200, "{}"), {
      cert: expired.certificatePem,
      key: expired.privateKeyPem,
    });
    const error = await rejection(
      transport({ tlsOptions: { ca: expired.certificatePem } }).send(get(`${server.url}/t`)),
    );
    expect(error.code).toBe("tls_error");
    expect(error.message).toContain("has expired (CERT_HAS_EXPIRED): check this machine's clock");
  });

  it("sends the client certificate of tlsOptions to a server that requires one", async () => {
    const server = await serve(
      (request, socket) => respond(socket, 200, `hello ${request.clientCertificate}`),
      { ...tlsServer(), clientCa: clientCertificate.certificatePem },
    );
    const without = await rejection(
      transport({ tlsOptions: { ca: authority.caCertificate } }).send(get(`${server.url}/t`)),
    );
    expect(without.code).toBe("tls_error");
    expect(without.message).toContain("set tlsOptions.cert and tlsOptions.key");
    const client = transport({
      tlsOptions: {
        ca: authority.caCertificate,
        cert: clientCertificate.certificatePem,
        key: clientCertificate.privateKeyPem,
      },
    });
    expect((await client.send(get(`${server.url}/t`))).body).toBe("hello workload");
    expect(server.requests).toHaveLength(1);
  });

  it("unusable tlsOptions are a configuration error", async () => {
    const error = await rejection(
      transport({ tlsOptions: { ca: "not a certificate", cert: "x", key: "y" } }).send(
        get("https://localhost:1/t"),
      ),
    );
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error.message).toMatch(/^tlsOptions could not be loaded/);
  });
});

describe("injected fetch", () => {
  it("sends through it with redirect: manual and the combined signal", async () => {
    const seen: Array<Parameters<FetchLike>[1]> = [];
    const server = await serve((_request, socket) => respond(socket, 200, '{"ok":true}'));
    const spy: FetchLike = (url, init) => {
      seen.push(init);
      return globalFetch(url, init);
    };
    const answer = await transport({ fetch: spy }).send({
      ...get(`${server.url}/t`),
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hi",
    });
    expect(answer.body).toBe('{"ok":true}');
    expect(seen[0]?.redirect).toBe("manual");
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(server.requests[0]?.body).toBe("hi");
  });

  it("refuses a redirect and sends nothing to its Location", async () => {
    const elsewhere = await serve((_request, socket) => respond(socket, 200, "{}"));
    const server = await serve((_request, socket) =>
      respond(socket, 308, "", { location: `${elsewhere.url}/x?y=1` }),
    );
    const error = await rejection(transport({ fetch: globalFetch }).send(get(`${server.url}/t`)));
    expect(error.code).toBe("redirect_refused");
    expect(error.message).toContain(`answered 308 with a redirect to ${elsewhere.url};`);
    expect(elsewhere.connections.opened).toBe(0);
  });

  it("refuses the answer of a fetch that followed a redirect anyway", async () => {
    const following: FetchLike = async () => ({
      status: 200,
      headers: new Headers(),
      redirected: true,
      url: "https://elsewhere.example/path",
      text: async () => "{}",
    });
    const error = await rejection(transport({ fetch: following }).send(get("https://a.example/t")));
    expect(error.code).toBe("redirect_refused");
    expect(error.message).toContain(
      "redirected to https://elsewhere.example by the injected fetch",
    );
  });

  it("caps the decoded body of a gzip bomb and an endless body", async () => {
    const bomb = await serve((_request, socket) => {
      socket.write(head(200, { "content-encoding": "gzip", "content-length": gzipBomb.length }));
      socket.write(gzipBomb);
    });
    let error: AuthenticationError | undefined;
    const growth = await peakRssGrowth(async () => {
      error = await rejection(transport({ fetch: globalFetch }).send(get(`${bomb.url}/t`)));
    });
    expect(error?.code).toBe("invalid_token_response");
    expect(growth).toBeLessThan(100 * MiB);
    // fetch had all 260 KB of the bomb: the exchange was complete, only decoding stopped.
    expect(bomb.requests).toHaveLength(1);

    const endless = await serve((_request, socket) => {
      socket.write(head(200, {}));
      pumpForever(socket, Buffer.alloc(64 * KiB, "a"));
    });
    const endlessError = await rejection(
      transport({ fetch: globalFetch }).send(get(`${endless.url}/t`)),
    );
    expect(endlessError.message).toContain("exceeded 1 MiB decoded");
    // (Node's fetch may open a spare connection that idles out later: only the used one counts.)
    await endless.whenClosed(endless.requests[0]?.connection ?? 0);
  });

  it("checks the length of text() when the response has no body stream", async () => {
    const textOnly: FetchLike = async () => ({
      status: 200,
      headers: new Headers(),
      text: async () => "x".repeat(2 * KiB),
    });
    const error = await rejection(
      transport({ fetch: textOnly }).send(get("https://a.example/t", { maxBodyBytes: KiB })),
    );
    expect(error.message).toBe(
      "The answer of https://a.example/t exceeded 1 KiB decoded; fedcred stopped reading it and dropped the connection.",
    );
  });

  it("times out during the body, and names network failures", async () => {
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-length": 1000 }));
      trickle(socket, 20);
    });
    const slow = await rejection(
      transport({ fetch: globalFetch }).send(get(`${server.url}/t`, { timeoutInMs: 200 })),
    );
    expect(slow.message).toContain("timed out after 200 ms");
    expect(isRetryableTransportError(slow)).toBe(true);

    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const refused = await rejection(
      transport({ fetch: globalFetch }).send(get(`http://127.0.0.1:${port}/t`)),
    );
    expect(refused.message).toContain("failed: ECONNREFUSED");
    expect(isRetryableTransportError(refused)).toBe(true);
  });

  it("refuses plain http to a non-loopback host before calling fetch", async () => {
    let calls = 0;
    const counting: FetchLike = async (url, init) => {
      calls++;
      return globalFetch(url, init);
    };
    const error = await rejection(transport({ fetch: counting }).send(get("http://example.com/t")));
    expect(error.code).toBe("invalid_configuration");
    expect(calls).toBe(0);
  });
});

describe("injected httpClient", () => {
  it("sends through createDefaultHttpClient() and reads the answer", async () => {
    const server = await serve((_request, socket) =>
      respond(socket, 200, '{"ok":1}', { "x-a": "b" }),
    );
    const answer = await transport({ httpClient: createDefaultHttpClient() }).send({
      ...get(`${server.url}/t?q=1`),
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "a=b",
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('{"ok":1}');
    expect(answer.headers.get("X-A")).toBe("b");
    expect(server.requests[0]?.path).toBe("/t?q=1");
    expect(server.requests[0]?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(server.requests[0]?.body).toBe("a=b");
  });

  it("gives the client a request with streaming, a request id and no credentials", async () => {
    let seen: Parameters<HttpClientLike["sendRequest"]>[0] | undefined;
    const stub: HttpClientLike = {
      async sendRequest(request) {
        seen = request;
        return { status: 204, headers: { get: () => undefined }, bodyAsText: "" };
      },
    };
    await transport({ httpClient: stub }).send(
      get("https://a.example/t", {
        clientRequestId: "rid",
        headers: { Accept: "application/json" },
      }),
    );
    expect(seen?.requestId).toBe("rid");
    expect(seen?.withCredentials).toBe(false);
    expect(seen?.timeout).toBe(5_000);
    expect(seen?.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY)).toBe(true);
    expect(seen?.headers.get("accept")).toBe("application/json");
    expect(seen?.headers.has("ACCEPT")).toBe(true);
  });

  it("refuses a redirect, sending nothing to its Location", async () => {
    const elsewhere = await serve((_request, socket) => respond(socket, 200, "{}"));
    const server = await serve((_request, socket) =>
      respond(socket, 307, "", { location: `${elsewhere.url}/x` }),
    );
    const error = await rejection(
      transport({ httpClient: createDefaultHttpClient() }).send(get(`${server.url}/t`)),
    );
    expect(error.code).toBe("redirect_refused");
    expect(error.statusCode).toBe(307);
    expect(elsewhere.connections.opened).toBe(0);
  });

  it("caps an endless body and a gzip bomb it decodes", async () => {
    const endless = await serve((_request, socket) => {
      socket.write(head(200, {}));
      pumpForever(socket, Buffer.alloc(64 * KiB, "a"));
    });
    const error = await rejection(
      transport({ httpClient: createDefaultHttpClient() }).send(get(`${endless.url}/t`)),
    );
    expect(error.message).toContain("exceeded 1 MiB decoded");
    await endless.allClosed();

    const bomb = await serve((_request, socket) => {
      socket.write(head(200, { "content-encoding": "gzip", "content-length": gzipBomb.length }));
      socket.write(gzipBomb);
    });
    let bombError: AuthenticationError | undefined;
    const growth = await peakRssGrowth(async () => {
      bombError = await rejection(
        transport({ httpClient: createDefaultHttpClient() }).send(
          get(`${bomb.url}/t`, { headers: { "accept-encoding": "gzip" } }),
        ),
      );
    });
    expect(bombError?.message).toContain("exceeded 1 MiB decoded");
    expect(growth).toBeLessThan(100 * MiB);
  });

  it("checks bodyAsText of a client that does not stream", async () => {
    const stub: HttpClientLike = {
      sendRequest: async () => ({
        status: 200,
        headers: { get: () => undefined },
        bodyAsText: "x".repeat(2048),
      }),
    };
    const error = await rejection(
      transport({ httpClient: stub }).send(get("https://a.example/t", { maxBodyBytes: 1024 })),
    );
    expect(error.code).toBe("invalid_token_response");
  });

  it("times out during the body and names network failures", async () => {
    const server = await serve((_request, socket) => {
      socket.write(head(200, { "content-length": 1000 }));
      trickle(socket, 20);
    });
    const slow = await rejection(
      transport({ httpClient: createDefaultHttpClient() }).send(
        get(`${server.url}/t`, { timeoutInMs: 200 }),
      ),
    );
    expect(slow.message).toContain("timed out after 200 ms");
    const hung = await serve(() => {});
    const noHeaders = await rejection(
      transport({ httpClient: createDefaultHttpClient() }).send(
        get(`${hung.url}/t`, { timeoutInMs: 200 }),
      ),
    );
    expect(noHeaders.message).toContain("timed out after 200 ms");
    expect(isRetryableTransportError(noHeaders)).toBe(true);

    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const refused = await rejection(
      transport({ httpClient: createDefaultHttpClient() }).send(get(`http://127.0.0.1:${port}/t`)),
    );
    expect(refused.message).toContain("failed: ECONNREFUSED");
    expect(isRetryableTransportError(refused)).toBe(true);
  });

  it("refuses to take both fetch and httpClient", () => {
    expect(() =>
      createTransport({ fetch: globalFetch, httpClient: createDefaultHttpClient() }),
    ).toThrow("Pass either fetch or httpClient, not both.");
  });
});
