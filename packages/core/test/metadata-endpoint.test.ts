import http from "node:http";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CredentialUnavailableError } from "../src/errors.js";
import { isMetadataHostname } from "../src/metadata-endpoint.js";
import { createTransport, type HttpRequest, type Transport } from "../src/transport.js";
import { type ConnectProxy, startConnectProxy } from "./support/connect-proxy.js";
import { type HostileServer, respond, startHostileServer } from "./support/hostile-server.js";

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function get(url: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return { url, method: "GET", timeoutInMs: 5_000, maxBodyBytes: 65_536, ...extra };
}

function transport(env: NodeJS.ProcessEnv = {}): Transport {
  const created = createTransport({ env });
  closers.push(() => created.close());
  return created;
}

async function server(): Promise<HostileServer> {
  const started = await startHostileServer((request, socket) =>
    respond(socket, 200, `direct ${request.headers.host}`, { "metadata-flavor": "Google" }),
  );
  closers.push(() => started.close());
  return started;
}

async function proxyTo(port: number): Promise<ConnectProxy> {
  const proxy = await startConnectProxy({ targetPort: port });
  closers.push(() => proxy.close());
  return proxy;
}

/**
 * Every plain-http connection of this test file goes to `port` on 127.0.0.1, whatever host it
 * was asked for: the requests below name the real metadata hosts, and nothing leaves the machine.
 * Answers the hosts asked for.
 */
function divertDirectConnections(port: number): string[] {
  const asked: string[] = [];
  const prototype = http.Agent.prototype as unknown as {
    createConnection: (options: { host?: string; port?: number | string }) => unknown;
  };
  const original = prototype.createConnection;
  prototype.createConnection = (options) => {
    asked.push(`${options.host}:${options.port}`);
    return connect({ host: "127.0.0.1", port });
  };
  closers.push(() => {
    prototype.createConnection = original;
  });
  // The transport makes its agents with `new http.Agent`: they must find the diversion.
  expect((new http.Agent() as unknown as typeof prototype).createConnection).toBe(
    prototype.createConnection,
  );
  return asked;
}

describe("isMetadataHostname", () => {
  it("knows link-local addresses and metadata.google.internal, nothing else", () => {
    for (const host of [
      "169.254.169.254",
      "169.254.129.3",
      "metadata.google.internal",
      "METADATA.google.internal",
    ]) {
      expect(isMetadataHostname(host), host).toBe(true);
    }
    for (const host of [
      "169.254.169.254.nip.io",
      "169.254.300.1",
      "169.25.169.254",
      "10.0.0.1",
      "metadata.google.internal.evil.example",
      "evilmetadata.google.internal",
      "127.0.0.1",
    ]) {
      expect(isMetadataHostname(host), host).toBe(false);
    }
  });
});

describe("metadataService requests", () => {
  it("without the flag, plain http to a metadata host is refused before connecting", async () => {
    const target = await server();
    const asked = divertDirectConnections(target.port);
    for (const url of [
      "http://169.254.169.254/metadata/identity/oauth2/token",
      "http://metadata.google.internal/computeMetadata/v1/",
    ]) {
      const error = await transport()
        .send(get(url))
        .catch((caught: unknown) => caught);
      expect(error, url).toBeInstanceOf(CredentialUnavailableError);
      expect((error as CredentialUnavailableError).code).toBe("invalid_configuration");
    }
    expect(asked).toEqual([]);
    expect(target.requests).toHaveLength(0);
  });

  it("with the flag, plain http to other hosts is still refused", async () => {
    const target = await server();
    const asked = divertDirectConnections(target.port);
    for (const url of [
      "http://10.0.0.1/metadata/identity/oauth2/token",
      "http://metadata.google.internal.evil.example/computeMetadata/v1/",
      "http://login.microsoftonline.com/x",
    ]) {
      const error = await transport()
        .send(get(url, { metadataService: true }))
        .catch((caught: unknown) => caught);
      expect(error, url).toBeInstanceOf(CredentialUnavailableError);
      expect((error as Error).message).toContain(
        "plain http to a metadata service only on loopback hosts, link-local addresses",
      );
    }
    expect(asked).toEqual([]);
  });

  it("with the flag, goes to the metadata host directly although a proxy is configured", async () => {
    const target = await server();
    const proxy = await proxyTo(target.port);
    const asked = divertDirectConnections(target.port);
    const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url };
    const viaTransport = transport(env);
    const gcp = await viaTransport.send(
      get("http://metadata.google.internal/computeMetadata/v1/project/project-id", {
        headers: { "metadata-flavor": "Google" },
        metadataService: true,
      }),
    );
    const imds = await viaTransport.send(
      get("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01", {
        headers: { metadata: "true" },
        metadataService: true,
      }),
    );
    expect(gcp.body).toBe("direct metadata.google.internal");
    expect(imds.body).toBe("direct 169.254.169.254");
    expect(asked).toEqual(["metadata.google.internal:80", "169.254.169.254:80"]);
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.plainRequests).toEqual([]);
  });

  it("the same transport sends a request without the flag through the proxy", async () => {
    const target = await server();
    const proxy = await proxyTo(target.port);
    const asked = divertDirectConnections(target.port);
    const viaTransport = createTransport({ env: { HTTPS_PROXY: proxy.url } });
    closers.push(() => viaTransport.close());
    // A made-up https host: the proxy tunnels it to the loopback server, which speaks no TLS.
    await viaTransport
      .send(get("https://identity.example/token", { timeoutInMs: 2_000 }))
      .catch(() => undefined);
    expect(proxy.tunnels.map((tunnel) => tunnel.target)).toEqual(["identity.example:443"]);
    expect(asked).toEqual([]);
  });
});
