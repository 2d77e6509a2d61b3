import http from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_AUDIENCE, fromGcpMetadata, GCE_METADATA_HOST } from "../src/index.js";
import {
  APP,
  claimsOf,
  EMAIL,
  EXCHANGE,
  type Federation,
  SCOPE,
  startFederation,
  TENANT,
  UNIQUE_ID,
} from "./federation.js";

let federation: Federation;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  // Access tokens live 30 s: long enough for a loaded machine to use one at the resource, short
  // enough that every getToken below, a faked minute or more apart, needs a new one from Entra.
  federation = await startFederation({ accessTokenLifetimeSeconds: 30, tokenLifetimeSeconds: 600 });
});
afterAll(() => federation?.close());
afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  federation.metadata.reset();
  federation.entra.reset();
});

function context(extra: Partial<AssertionContext> = {}): AssertionContext {
  return {
    clientId: APP,
    tenantId: TENANT,
    authorityHost: federation.entra.url,
    tokenEndpoint: federation.entra.tokenEndpoint(TENANT),
    ...extra,
  };
}

async function callResource(token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(federation.resource.url, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

async function failure(promise: unknown): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** A loopback server that accepts connections and never answers. */
async function silentServer(): Promise<{ host: string; connections: number }> {
  const sockets = new Set<Socket>();
  const state = { host: "", connections: 0 };
  const server: Server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** Every plain-http connection goes to the metadata emulator, whatever host it asked for. */
function divertDirectConnections(): string[] {
  const asked: string[] = [];
  const prototype = http.Agent.prototype as unknown as {
    createConnection: (options: { host?: string; port?: number | string }) => unknown;
  };
  const original = prototype.createConnection;
  prototype.createConnection = (options) => {
    asked.push(`${options.host}:${options.port}`);
    return connect({ host: "127.0.0.1", port: federation.metadata.port });
  };
  cleanups.push(() => {
    prototype.createConnection = original;
  });
  expect((new http.Agent() as unknown as typeof prototype).createConnection).toBe(
    prototype.createConnection,
  );
  return asked;
}

describe("fromGcpMetadata end to end", () => {
  it("the metadata server's identity token becomes an access token the resource accepts", async () => {
    vi.stubEnv(GCE_METADATA_HOST, federation.metadata.host);
    const credential = new ClientAssertionCredential(TENANT, APP, fromGcpMetadata(), {
      authorityHost: federation.entra.url,
    });
    cleanups.push(() => credential.close());
    const token = await credential.getToken(SCOPE);
    const answer = await callResource(token.token);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ appid: APP, tid: TENANT });

    const [request] = federation.identityRequests();
    expect(request?.path).toBe("/computeMetadata/v1/instance/service-accounts/default/identity");
    expect(request?.query).toEqual({ audience: EXCHANGE, format: "full" });
    expect(request?.headers["metadata-flavor"]).toBe("Google");
    expect(request?.headers["x-forwarded-for"]).toBeUndefined();
    const [exchange] = federation.entra.requests.filter((r) => r.path.endsWith("/token"));
    const claims = claimsOf(exchange?.form.client_assertion ?? "");
    expect(claims).toMatchObject({
      iss: federation.metadata.issuer,
      sub: UNIQUE_ID,
      aud: EXCHANGE,
      email: EMAIL,
      google: { compute_engine: { project_id: "acme-prod" } },
    });
  });

  it("asks once across access-token refreshes until the identity token nears its exp, then again", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromGcpMetadata({ metadataHost: federation.metadata.host }),
      { authorityHost: federation.entra.url },
    );
    cleanups.push(() => credential.close());
    const first = await credential.getToken(SCOPE);
    // The identity token lives 600 s: it is kept until a fifth of that before its exp (480 s).
    vi.advanceTimersByTime(60_000);
    const second = await credential.getToken(SCOPE);
    vi.advanceTimersByTime(300_000);
    const third = await credential.getToken(SCOPE);
    expect(new Set([first.token, second.token, third.token]).size).toBe(3);
    expect(federation.identityRequests()).toHaveLength(1);
    vi.advanceTimersByTime(130_000);
    await credential.getToken(SCOPE);
    expect(federation.identityRequests()).toHaveLength(2);
    const assertions = federation.entra.requests
      .filter((r) => r.path.endsWith("/token"))
      .map((r) => r.form.client_assertion);
    expect(assertions).toHaveLength(4);
    expect(new Set(assertions.slice(0, 3)).size).toBe(1);
    expect(assertions[3]).not.toBe(assertions[0]);
  });

  it("concurrent first calls share one request", async () => {
    const assertion = fromGcpMetadata({ metadataHost: federation.metadata.host });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => assertion(context())));
    expect(new Set(tokens).size).toBe(1);
    expect(federation.identityRequests()).toHaveLength(1);
  });

  it("asks for the sovereign cloud's audience, or the one given", async () => {
    const assertion = fromGcpMetadata({ metadataHost: federation.metadata.host });
    await assertion(context({ authorityHost: "https://login.microsoftonline.us" }));
    await assertion(context({ authorityHost: "https://login.chinacloudapi.cn" }));
    await assertion(context());
    await fromGcpMetadata({ metadataHost: federation.metadata.host, audience: "api://custom" })(
      context(),
    );
    expect(federation.identityRequests().map((r) => r.query.audience)).toEqual([
      "api://AzureADTokenExchangeUSGov",
      "api://AzureADTokenExchangeChina",
      DEFAULT_AUDIENCE,
      "api://custom",
    ]);
  });

  it("by default asks metadata.google.internal directly, even with a proxy in the environment", async () => {
    const proxy = await silentServer();
    vi.stubEnv(GCE_METADATA_HOST, "");
    vi.stubEnv("HTTPS_PROXY", `http://${proxy.host}`);
    vi.stubEnv("HTTP_PROXY", `http://${proxy.host}`);
    const asked = divertDirectConnections();
    const token = await fromGcpMetadata()(context());
    expect(claimsOf(token).sub).toBe(UNIQUE_ID);
    expect(asked).toEqual(["metadata.google.internal:80"]);
    expect(proxy.connections).toBe(0);
    expect(federation.identityRequests()[0]?.headers.host).toBe("metadata.google.internal");
  });

  it("asks another service account by email", async () => {
    const token = await fromGcpMetadata({
      metadataHost: federation.metadata.host,
      serviceAccount: EMAIL,
    })(context());
    expect(claimsOf(token).email).toBe(EMAIL);
    expect(federation.identityRequests()[0]?.path).toBe(
      `/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(EMAIL)}/identity`,
    );
  });
});

describe("fromGcpMetadata failures", () => {
  const assertion = () => fromGcpMetadata({ metadataHost: federation.metadata.host });

  it("no metadata server: CredentialUnavailableError naming GCE_METADATA_HOST", async () => {
    const closed = await silentServer();
    // A port nobody listens on: take the silent server's and close it at once.
    await cleanups.pop()?.();
    vi.stubEnv(GCE_METADATA_HOST, closed.host);
    const error = await failure(fromGcpMetadata()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
    expect(error.message).toMatch(/No GCP metadata server answered at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("a server that never answers: unavailable after requestTimeoutInMs", async () => {
    const silent = await silentServer();
    const error = await failure(
      fromGcpMetadata({ metadataHost: silent.host, requestTimeoutInMs: 300 })(context()),
    );
    expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
  });

  it("an answer without Metadata-Flavor: Google is not the metadata server's", async () => {
    federation.metadata.faults.push({ status: 200, body: "hello", withoutFlavor: true });
    const error = await failure(assertion()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error.message).toContain("without Metadata-Flavor: Google");
  });

  it("a redirect is refused and never followed", async () => {
    const elsewhere = await silentServer();
    federation.metadata.faults.push({
      status: 302,
      headers: { location: `http://${elsewhere.host}/token` },
    });
    const error = await failure(assertion()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error.message).toContain("redirect");
    expect(elsewhere.connections).toBe(0);
  });

  it("an oversized body fails without being read whole", async () => {
    federation.metadata.faults.push({ status: 200, body: "a".repeat(200 * 1024) });
    const error = await failure(assertion()(context()));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe("assertion_failed");
    expect(error.message).toMatch(/KiB/);
  });

  it("a body that is not a JWT with exp is refused, and never quoted", async () => {
    const noExp = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from('{"sub":"secret-sub"}').toString("base64url")}.c2ln`;
    for (const body of ["not a token", noExp]) {
      federation.metadata.faults.push({ status: 200, body });
      const error = await failure(assertion()(context()));
      expect((error as AuthenticationError).code).toBe("assertion_failed");
      expect(error.message).toContain("not an identity token");
      expect(inspect(error)).not.toContain(body);
      expect(JSON.stringify(error)).not.toContain(body);
    }
  });

  it("tries a 503 three times in all, then fails with the status", async () => {
    federation.metadata.faults.push({ status: 503, body: "busy" }, 2);
    const token = await assertion()(context());
    expect(claimsOf(token).sub).toBe(UNIQUE_ID);
    expect(federation.identityRequests()).toHaveLength(3);
    federation.metadata.reset();
    federation.metadata.faults.push({ status: 503, body: "busy" }, 3);
    const error = await failure(assertion()(context()));
    expect(error.message).toContain("HTTP 503, after 3 attempts");
    expect(federation.identityRequests()).toHaveLength(3);
  });

  it("a refusal names the service account and what to check", async () => {
    const error = await failure(
      fromGcpMetadata({
        metadataHost: federation.metadata.host,
        serviceAccount: "nobody@acme-prod.iam.gserviceaccount.com",
      })(context()),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).statusCode).toBe(404);
    expect(error.message).toContain("nobody@acme-prod.iam.gserviceaccount.com");
    expect(error.message).toContain("No such service account is attached");
    federation.metadata.faults.push({ status: 403, body: "Forbidden" });
    const forbidden = await failure(assertion()(context()));
    expect(forbidden.message).toContain("forbade");
  });

  it("a dropped connection is unavailable", async () => {
    federation.metadata.faults.push({ drop: true });
    const error = await failure(assertion()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
  });

  it("abort rejects at once with an AbortError", async () => {
    const silent = await silentServer();
    const controller = new AbortController();
    const pending = fromGcpMetadata({ metadataHost: silent.host })(
      context({ abortSignal: controller.signal }),
    );
    await vi.waitFor(() => expect(silent.connections).toBe(1), { timeout: 10_000 });
    controller.abort();
    const error = await failure(pending);
    expect(error.name).toBe("AbortError");
  });

  it("a host with the explicit default port :80 is accepted, as Google's libraries accept it", () => {
    for (const metadataHost of ["169.254.169.254:80", "metadata.google.internal:80", "[::1]:80"]) {
      expect(() => fromGcpMetadata({ metadataHost }), metadataHost).not.toThrow();
    }
    vi.stubEnv(GCE_METADATA_HOST, "169.254.169.254:80");
    expect(() => fromGcpMetadata()).not.toThrow();
    for (const metadataHost of ["169.254.169.254:80/x", "10.0.0.1:80", "127.0.0.1:080x"]) {
      expect(() => fromGcpMetadata({ metadataHost }), metadataHost).toThrow(
        /options\.metadataHost/,
      );
    }
  });

  it("invalid options and GCE_METADATA_HOST throw at the factory, naming the source", () => {
    for (const metadataHost of ["http://metadata.google.internal", "10.0.0.1", "a/b", ""]) {
      expect(() => fromGcpMetadata({ metadataHost }), metadataHost).toThrow(
        /options\.metadataHost/,
      );
    }
    vi.stubEnv(GCE_METADATA_HOST, "metadata.example.com");
    expect(() => fromGcpMetadata()).toThrow(/GCE_METADATA_HOST names metadata\.example\.com/);
    vi.stubEnv(GCE_METADATA_HOST, "169.254.169.254");
    expect(() => fromGcpMetadata()).not.toThrow();
    expect(() => fromGcpMetadata({ audience: "" })).toThrow(/options\.audience/);
    expect(() => fromGcpMetadata({ serviceAccount: "a/b" })).toThrow(/options\.serviceAccount/);
    expect(() => fromGcpMetadata({ requestTimeoutInMs: 0 })).toThrow(/requestTimeoutInMs/);
    try {
      fromGcpMetadata({ metadataHost: "10.0.0.1" });
    } catch (error) {
      expect(error).toBeInstanceOf(CredentialUnavailableError);
      expect((error as CredentialUnavailableError).code).toBe("invalid_configuration");
    }
  });
});
