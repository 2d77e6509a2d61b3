import { once } from "node:events";
import { inspect } from "node:util";
import { createGzip } from "node:zlib";
import {
  createSelfSignedCertificate,
  createTlsAuthority,
  type SelfSignedCertificate,
  type TlsAuthority,
} from "@fedcred/emulator";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AuthenticationError, CredentialUnavailableError } from "../src/errors.js";
import { readProxyRules } from "../src/proxy.js";
import {
  createTransport,
  type HttpRequest,
  isRetryableTransportError,
  type Transport,
  type TransportOptions,
} from "../src/transport.js";
import {
  type ConnectProxy,
  type ConnectProxyOptions,
  startConnectProxy,
} from "./support/connect-proxy.js";
import {
  type HostileServer,
  head,
  respond,
  startHostileServer,
  type TlsServerOptions,
  type WireHandler,
} from "./support/hostile-server.js";

const MiB = 1024 * 1024;
/** A name no resolver answers: the request can only reach the backend through the proxy. */
const TARGET = "https://login.test.invalid/tenant/oauth2/v2.0/token";

let authority: TlsAuthority;
let clientCertificate: SelfSignedCertificate;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  [authority, clientCertificate] = await Promise.all([
    createTlsAuthority("fedcred proxy test CA"),
    createSelfSignedCertificate({ commonName: "workload" }),
  ]);
});

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function backend(
  handler: WireHandler = (_request, socket) => respond(socket, 200, '{"ok":true}'),
  tls: Partial<TlsServerOptions> = {},
): Promise<HostileServer> {
  const server = await startHostileServer(handler, {
    cert: authority.serverCertificate,
    key: authority.serverKey,
    ...tls,
  });
  closers.push(() => server.close());
  return server;
}

async function proxyTo(
  server: HostileServer,
  options: Partial<ConnectProxyOptions> = {},
): Promise<ConnectProxy> {
  const proxy = await startConnectProxy({ targetPort: server.port, ...options });
  closers.push(() => proxy.close());
  return proxy;
}

function transport(options: TransportOptions = {}): Transport {
  const created = createTransport({
    env: {},
    tlsOptions: { ca: authority.caCertificate },
    ...options,
  });
  closers.push(() => created.close());
  return created;
}

/** The request of these tests: to the made-up host, whose certificate (the backend's) names localhost. */
function post(url = TARGET, extra: Partial<HttpRequest> = {}): HttpRequest {
  return {
    url,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
    timeoutInMs: 5_000,
    maxBodyBytes: MiB,
    tls: { servername: "localhost" },
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<AuthenticationError> {
  try {
    await promise;
  } catch (error) {
    return error as AuthenticationError;
  }
  throw new Error("expected a rejection, got an answer");
}

async function closedPort(): Promise<number> {
  const server = await startHostileServer(() => {});
  const { port } = server;
  await server.close();
  return port;
}

/** Every way an error can be printed, joined: what must never hold a secret. */
function everyRendering(error: AuthenticationError): string {
  const cause = (error as { cause?: unknown }).cause;
  return [
    error.message,
    error.stack,
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    inspect(cause, { depth: Number.POSITIVE_INFINITY, showHidden: true }),
    String(cause),
    JSON.stringify(cause),
  ].join("\n");
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

describe("through a CONNECT proxy", () => {
  it("tunnels to the destination named in the URL, from proxyOptions", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const answer = await transport({
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
    }).send(post());
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('{"ok":true}');
    expect(proxy.tunnels).toEqual([
      { target: "login.test.invalid:443", authorization: undefined, opened: true },
    ]);
    expect(proxy.plainRequests).toEqual([]);
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/tenant/oauth2/v2.0/token");
    expect(request?.headers.host).toBe("login.test.invalid");
    expect(request?.body).toBe("grant_type=client_credentials");
  });

  it("sends proxyOptions' credentials as Basic Proxy-Authorization", async () => {
    const server = await backend();
    const proxy = await proxyTo(server, {
      credentials: { username: "alice", password: "pa:ss wörd" },
    });
    const client = transport({
      proxyOptions: {
        host: "http://127.0.0.1",
        port: proxy.port,
        username: "alice",
        password: "pa:ss wörd",
      },
    });
    await client.send(post());
    expect(proxy.tunnels[0]?.authorization).toBe(basic("alice", "pa:ss wörd"));
    expect(proxy.tunnels[0]?.opened).toBe(true);
  });

  it("decodes credentials from the user info of a proxy variable", async () => {
    const server = await backend();
    const proxy = await proxyTo(server, {
      credentials: { username: "bob", password: "p@ss/word" },
    });
    await transport({
      env: { HTTPS_PROXY: `http://bob:p%40ss%2Fword@127.0.0.1:${proxy.port}` },
    }).send(post());
    expect(proxy.tunnels[0]?.authorization).toBe(basic("bob", "p@ss/word"));
  });

  for (const name of [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
  ]) {
    it(`uses ${name}`, async () => {
      const server = await backend();
      const proxy = await proxyTo(server);
      await transport({ env: { [name]: proxy.url } }).send(post());
      expect(proxy.tunnels.map((tunnel) => tunnel.target)).toEqual(["login.test.invalid:443"]);
    });
  }

  it("takes HTTPS_PROXY over ALL_PROXY over HTTP_PROXY, upper case over lower case", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const environments: NodeJS.ProcessEnv[] = [
      { HTTPS_PROXY: proxy.url, ALL_PROXY: dead, HTTP_PROXY: dead, https_proxy: dead },
      { ALL_PROXY: proxy.url, HTTP_PROXY: dead, all_proxy: dead },
      { https_proxy: proxy.url, ALL_PROXY: dead },
      { HTTPS_PROXY: "", https_proxy: proxy.url, HTTP_PROXY: dead },
      { HTTP_PROXY: proxy.url, http_proxy: dead },
    ];
    for (const env of environments) {
      const answer = await transport({ env }).send(post());
      expect(answer.status, JSON.stringify(env)).toBe(200);
    }
    expect(proxy.tunnels).toHaveLength(environments.length);
  });

  it("takes proxyOptions over the environment", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    await transport({
      env: { HTTPS_PROXY: dead, ALL_PROXY: dead },
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
    }).send(post());
    expect(proxy.tunnels).toHaveLength(1);
  });

  it("never proxies a loopback destination", async () => {
    const server = await backend();
    const plain = await startHostileServer((_request, socket) => respond(socket, 200, "plain"));
    closers.push(() => plain.close());
    const proxy = await proxyTo(server);
    const client = transport({
      env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url },
      proxyOptions: { host: "http://127.0.0.1", port: proxy.port },
    });
    const get = { method: "GET" as const, timeoutInMs: 5_000, maxBodyBytes: MiB };
    expect((await client.send({ ...get, url: `https://localhost:${server.port}/t` })).status).toBe(
      200,
    );
    expect((await client.send({ ...get, url: `https://127.0.0.1:${server.port}/t` })).status).toBe(
      200,
    );
    expect((await client.send({ ...get, url: `${plain.url}/t` })).body).toBe("plain");
    expect(proxy.tunnels).toHaveLength(0);
    expect(proxy.plainRequests).toHaveLength(0);
  });

  it("keeps the tunnel alive across requests, and close() drops it", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const client = transport({ env: { HTTPS_PROXY: proxy.url } });
    for (let i = 0; i < 3; i++) {
      await client.send(post());
      // undici frees the connection a tick after the body ends; a request sent at once opens another.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(proxy.tunnels).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
    client.close();
    await server.allClosed();
  });

  it("trusts a destination's own CA and sends the client certificate through the tunnel", async () => {
    const server = await backend(
      (request, socket) => respond(socket, 200, `hello ${request.clientCertificate}`),
      { clientCa: clientCertificate.certificatePem },
    );
    const proxy = await proxyTo(server);
    const answer = await transport({
      env: { HTTPS_PROXY: proxy.url },
      tlsOptions: { cert: clientCertificate.certificatePem, key: clientCertificate.privateKeyPem },
    }).send(post(TARGET, { tls: { ca: authority.caCertificate, servername: "localhost" } }));
    expect(answer.body).toBe("hello workload");
  });
});

describe("refusals through a proxy", () => {
  it("an unreachable proxy is retryable and named without its credentials", async () => {
    const port = await closedPort();
    for (const options of [
      { env: { HTTPS_PROXY: `http://alice:s3cret-pw@127.0.0.1:${port}` } },
      {
        proxyOptions: { host: "http://127.0.0.1", port, username: "alice", password: "s3cret-pw" },
      },
    ]) {
      const error = await rejection(
        transport(options).send(post(TARGET, { clientRequestId: "p" })),
      );
      const source = options.env ? "HTTPS_PROXY" : "proxyOptions";
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error.code).toBe("token_request_failed");
      expect(error.message).toBe(
        `The proxy http://127.0.0.1:${port} (from ${source}) could not be reached: ECONNREFUSED (connection refused). Check the proxy's address, or list hosts that need no proxy in NO_PROXY.`,
      );
      expect(error.clientRequestId).toBe("p");
      expect(isRetryableTransportError(error)).toBe(true);
      const printed = everyRendering(error);
      expect(printed).not.toContain("s3cret-pw");
      expect(printed).not.toContain("alice");
      expect(printed).not.toContain(basic("alice", "s3cret-pw").slice(6));
    }
  });

  it("a 407 says the proxy requires authentication", async () => {
    const server = await backend();
    const proxy = await proxyTo(server, { credentials: { username: "alice", password: "right" } });
    const error = await rejection(transport({ env: { HTTPS_PROXY: proxy.url } }).send(post()));
    expect(error.code).toBe("token_request_failed");
    expect(error.message).toBe(
      `The proxy ${proxy.url} (from HTTPS_PROXY) answered 407 to the tunnel request for login.test.invalid:443: the proxy requires authentication: set proxyOptions.username/password or credentials in HTTPS_PROXY.`,
    );
    expect(isRetryableTransportError(error)).toBe(false);
    expect(server.connections.opened).toBe(0);
  });

  it("a 407 to credentials says they were refused, and prints none of them", async () => {
    const server = await backend();
    const proxy = await proxyTo(server, { credentials: { username: "alice", password: "right" } });
    const error = await rejection(
      transport({
        proxyOptions: {
          host: "http://127.0.0.1",
          port: proxy.port,
          username: "alice",
          password: "wr0ng-pw",
        },
      }).send(post()),
    );
    expect(error.message).toContain(
      "answered 407 to the tunnel request for login.test.invalid:443: the proxy refused the credentials from proxyOptions",
    );
    expect(everyRendering(error)).not.toMatch(/wr0ng-pw|alice/);
    expect(proxy.tunnels[0]?.authorization).toBe(basic("alice", "wr0ng-pw"));
  });

  it("a 403 is not retryable, a 502 is", async () => {
    const server = await backend();
    const forbidding = await proxyTo(server, { refuseWith: 403 });
    const forbidden = await rejection(
      transport({ env: { HTTPS_PROXY: forbidding.url } }).send(post()),
    );
    expect(forbidden.message).toContain(
      "answered 403 to the tunnel request for login.test.invalid:443: the proxy's policy does not allow this destination.",
    );
    expect(isRetryableTransportError(forbidden)).toBe(false);
    const failing = await proxyTo(server, { refuseWith: 502 });
    const badGateway = await rejection(
      transport({ env: { HTTPS_PROXY: failing.url } }).send(post()),
    );
    expect(badGateway.message).toContain("answered 502");
    expect(isRetryableTransportError(badGateway)).toBe(true);
  });

  it("an untrusted certificate behind the proxy is a tls_error that mentions TLS inspection", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const error = await rejection(
      transport({ env: { HTTPS_PROXY: proxy.url }, tlsOptions: undefined }).send(post()),
    );
    expect(error.code).toBe("tls_error");
    expect(error.message).toBe(
      `The TLS certificate of https://login.test.invalid is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): if the server uses a private or corporate CA (a TLS-inspecting proxy such as ${proxy.url} presents its own CA), trust it with NODE_EXTRA_CA_CERTS=/path/to/ca.pem or tlsOptions.ca.`,
    );
    expect(server.requests).toHaveLength(0);
  });

  it("a certificate that does not name the destination is a tls_error", async () => {
    const server = await backend();
    const proxy = await proxyTo(server);
    const error = await rejection(
      transport({ env: { HTTPS_PROXY: proxy.url } }).send(post(TARGET, { tls: undefined })),
    );
    expect(error.code).toBe("tls_error");
    expect(error.message).toContain(
      "does not name login.test.invalid (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a redirect and sends nothing to its Location", async () => {
    const elsewhere = await backend();
    const server = await backend((_request, socket) =>
      respond(socket, 302, "", { location: "https://evil.test.invalid:8443/steal?x=1" }),
    );
    const proxy = await proxyTo(server);
    const error = await rejection(transport({ env: { HTTPS_PROXY: proxy.url } }).send(post()));
    expect(error.code).toBe("redirect_refused");
    expect(error.message).toContain(
      "The request to https://login.test.invalid/tenant/oauth2/v2.0/token was answered 302 with a redirect to https://evil.test.invalid:8443;",
    );
    expect(proxy.tunnels.map((tunnel) => tunnel.target)).toEqual(["login.test.invalid:443"]);
    expect(elsewhere.connections.opened).toBe(0);
  });

  it("caps a gzip bomb and an endless body, dropping the tunnel", async () => {
    const gzip = createGzip({ level: 9 });
    const chunks: Buffer[] = [];
    gzip.on("data", (chunk: Buffer) => chunks.push(chunk));
    for (let i = 0; i < 64; i++) gzip.write(Buffer.alloc(MiB));
    gzip.end();
    await once(gzip, "end");
    const bomb = Buffer.concat(chunks);
    const server = await backend((request, socket) => {
      if (request.path === "/bomb") {
        socket.write(head(200, { "content-encoding": "gzip", "content-length": bomb.length }));
        socket.write(bomb);
        return;
      }
      socket.write(head(200, {}));
      const chunk = Buffer.alloc(64 * 1024, "a");
      const pump = (): void => {
        while (!socket.destroyed) if (!socket.write(chunk)) return void socket.once("drain", pump);
      };
      pump();
    });
    const proxy = await proxyTo(server);
    const client = transport({ env: { HTTPS_PROXY: proxy.url } });
    const bombError = await rejection(client.send(post("https://login.test.invalid/bomb")));
    expect(bombError.message).toBe(
      "The answer of https://login.test.invalid/bomb exceeded 1 MiB decoded; fedcred stopped reading it and dropped the connection.",
    );
    const endlessError = await rejection(client.send(post("https://login.test.invalid/endless")));
    expect(endlessError.code).toBe("invalid_token_response");
    const endless = server.requests.find((request) => request.path === "/endless");
    await server.whenClosed(endless?.connection ?? 0);
  });

  it("times out during the body, and aborts", async () => {
    const server = await backend((_request, socket) => {
      socket.write(head(200, { "content-length": 1000 }));
      const timer = setInterval(() => socket.write("x"), 20);
      socket.once("close", () => clearInterval(timer));
    });
    const proxy = await proxyTo(server);
    const client = transport({ env: { HTTPS_PROXY: proxy.url } });
    const slow = await rejection(client.send(post(TARGET, { timeoutInMs: 300 })));
    expect(slow.message).toBe(`The request to ${TARGET} timed out after 300 ms.`);
    expect(isRetryableTransportError(slow)).toBe(true);

    const abort = new AbortController();
    const pending = client.send(post(TARGET, { signal: abort.signal }));
    setTimeout(() => abort.abort(), 100);
    expect((await rejection(pending)).name).toBe("AbortError");
    await server.allClosed();
  });
});

describe("proxy configuration", () => {
  it("an unusable proxy variable fails the requests that would use it, naming it", async () => {
    const plain = await startHostileServer((_request, socket) => respond(socket, 200, "ok"));
    closers.push(() => plain.close());
    const client = transport({ env: { ALL_PROXY: "socks5://user:pw@127.0.0.1:1080" } });
    const error = await rejection(client.send(post()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error.code).toBe("invalid_configuration");
    expect(error.message).toBe(
      "The proxy from ALL_PROXY uses socks5; fedcred supports http and https proxies only.",
    );
    // Loopback needs no proxy, so it still works.
    expect((await client.send(post(`${plain.url}/t`, { tls: undefined }))).body).toBe("ok");
  });

  it("unusable proxyOptions throw at once", () => {
    expect(() => createTransport({ proxyOptions: { host: "", port: 3128 } })).toThrow(
      CredentialUnavailableError,
    );
    expect(() => createTransport({ proxyOptions: { host: "http://proxy", port: 0 } })).toThrow(
      "proxyOptions.port must be a port number from 1 to 65535, got 0.",
    );
    expect(() => createTransport({ proxyOptions: { host: "ftp://proxy", port: 21 } })).toThrow(
      "The proxy from proxyOptions uses ftp; fedcred supports http and https proxies only.",
    );
  });

  it("a route never shows its credentials", () => {
    const route = readProxyRules(
      { host: "http://proxy.corp.example", port: 3128, username: "alice", password: "s3cret" },
      {},
    ).routeFor(new URL(TARGET));
    expect(route?.uri).toBe("http://proxy.corp.example:3128");
    expect(route?.authorization()).toBe(basic("alice", "s3cret"));
    const printed = `${inspect(route, { showHidden: true, depth: 5 })}${JSON.stringify(route)}`;
    expect(printed).not.toMatch(/s3cret|alice|YWxpY2U6czNjcmV0/);
  });

  const noProxyCases: Array<[string, string, boolean]> = [
    // [NO_PROXY, URL, goes through the proxy]
    ["login.test.invalid", "https://login.test.invalid/t", false],
    ["login.test.invalid", "https://sub.login.test.invalid/t", true],
    ["LOGIN.Test.Invalid", "https://login.test.invalid/t", false],
    [".test.invalid", "https://test.invalid/t", false],
    [".test.invalid", "https://login.test.invalid/t", false],
    [".test.invalid", "https://a.b.test.invalid/t", false],
    [".test.invalid", "https://nottest.invalid/t", true],
    ["*.test.invalid", "https://login.test.invalid/t", false],
    ["*", "https://anything.example/t", false],
    ["login.test.invalid:443", "https://login.test.invalid/t", false],
    ["login.test.invalid:443", "https://login.test.invalid:8443/t", true],
    [".test.invalid:8443", "https://login.test.invalid:8443/t", false],
    [" other.example , login.test.invalid ", "https://login.test.invalid/t", false],
    ["other.example", "https://login.test.invalid/t", true],
    ["2001:db8::1", "https://[2001:db8::1]/t", false],
    ["[2001:db8::1]:443", "https://[2001:db8::1]/t", false],
    ["[2001:db8::1]:8443", "https://[2001:db8::1]/t", true],
    ["10.1.2.3", "https://10.1.2.3/t", false],
    ["", "https://login.test.invalid/t", true],
  ];
  for (const [noProxy, url, proxied] of noProxyCases) {
    it(`NO_PROXY=${JSON.stringify(noProxy)} ${proxied ? "proxies" : "bypasses"} ${url}`, () => {
      const rules = readProxyRules(undefined, {
        HTTPS_PROXY: "http://proxy:3128",
        NO_PROXY: noProxy,
      });
      expect(rules.routeFor(new URL(url)) !== undefined).toBe(proxied);
    });
  }

  it("reads no_proxy too, and applies NO_PROXY to proxyOptions as well", () => {
    const lower = readProxyRules(undefined, {
      HTTPS_PROXY: "http://p:1",
      no_proxy: ".test.invalid",
    });
    expect(lower.routeFor(new URL(TARGET))).toBeUndefined();
    const explicit = readProxyRules(
      { host: "http://p", port: 1 },
      { NO_PROXY: "login.test.invalid" },
    );
    expect(explicit.routeFor(new URL(TARGET))).toBeUndefined();
    expect(explicit.routeFor(new URL("https://other.example/"))?.source).toBe("proxyOptions");
  });

  it("never routes loopback hosts, and reads a bare host:port as http", () => {
    const rules = readProxyRules(undefined, { HTTPS_PROXY: "proxy.corp.example:3128" });
    for (const url of [
      "https://localhost:1/",
      "https://127.0.0.1/",
      "https://127.8.9.10/",
      "https://[::1]/",
      "http://localhost/",
    ]) {
      expect(rules.routeFor(new URL(url)), url).toBeUndefined();
    }
    expect(rules.routeFor(new URL(TARGET))?.uri).toBe("http://proxy.corp.example:3128");
  });
});
