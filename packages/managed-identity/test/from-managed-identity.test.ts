import http from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
  chainAssertions,
} from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  AZURE_POD_IDENTITY_AUTHORITY_HOST,
  fromManagedIdentity,
  IDENTITY_ENDPOINT,
  IDENTITY_HEADER,
} from "../src/index.js";
import {
  APP,
  BILLING,
  claimsOf,
  EXCHANGE,
  type Federation,
  HOME_TENANT,
  SCOPE,
  SYSTEM,
  startFederation,
  TENANT,
} from "./federation.js";

let federation: Federation;
const cleanups: Array<() => unknown> = [];
const FAST = { retryOptions: { retryDelayInMs: 10 } };

beforeAll(async () => {
  // Access tokens live 30 s: long enough for a loaded machine to use one at the resource, short
  // enough that every getToken below, a faked minute or more apart, needs a new one from Entra.
  federation = await startFederation({ accessTokenLifetimeSeconds: 30 });
});
afterAll(() => federation?.close());
afterEach(async () => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  federation.imds.reset();
  federation.entra.reset();
});

/** No managed identity variables but the ones a test sets. */
function environment(variables: Record<string, string> = {}): void {
  for (const name of [
    IDENTITY_ENDPOINT,
    IDENTITY_HEADER,
    AZURE_POD_IDENTITY_AUTHORITY_HOST,
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
  ]) {
    vi.stubEnv(name, variables[name] ?? "");
  }
}
const onImds = () => environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: federation.imds.url });
const onAppService = () =>
  environment({
    [IDENTITY_ENDPOINT]: federation.imds.identityEndpoint,
    [IDENTITY_HEADER]: federation.imds.identityHeader,
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

async function failure(promise: unknown): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

async function getToken(assertion: ReturnType<typeof fromManagedIdentity>): Promise<string> {
  const credential = new ClientAssertionCredential(TENANT, APP, assertion, {
    authorityHost: federation.entra.url,
  });
  cleanups.push(() => credential.close());
  return (await credential.getToken(SCOPE)).token;
}

async function callResource(token: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(federation.resource.url, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

/** A loopback server that accepts connections and never answers. */
async function silentServer(): Promise<{ url: string; connections: number }> {
  const sockets = new Set<Socket>();
  const state = { url: "", connections: 0 };
  const server: Server = createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return state;
}

/** Every plain-http connection goes to the IMDS emulator, whatever host it asked for. */
function divertDirectConnections(): string[] {
  const asked: string[] = [];
  const prototype = http.Agent.prototype as unknown as {
    createConnection: (options: { host?: string; port?: number | string }) => unknown;
  };
  const original = prototype.createConnection;
  prototype.createConnection = (options) => {
    asked.push(`${options.host}:${options.port}`);
    return connect({ host: "127.0.0.1", port: federation.imds.port });
  };
  cleanups.push(() => {
    prototype.createConnection = original;
  });
  expect((new http.Agent() as unknown as typeof prototype).createConnection).toBe(
    prototype.createConnection,
  );
  return asked;
}

describe("fromManagedIdentity end to end", () => {
  it("IMDS: the user-assigned identity's token crosses tenants into an access token the resource accepts", async () => {
    onImds();
    const token = await getToken(fromManagedIdentity({ clientId: BILLING.clientId }));
    const answer = await callResource(token);
    expect(answer).toMatchObject({ status: 200, body: { appid: APP, tid: TENANT } });

    const [request] = federation.identityRequests();
    expect(request?.endpoint).toBe("imds");
    expect(request?.path).toBe("/metadata/identity/oauth2/token");
    expect(request?.query).toEqual({
      "api-version": "2018-02-01",
      resource: EXCHANGE,
      client_id: BILLING.clientId,
    });
    expect(request?.headers.metadata).toBe("true");
    expect(request?.headers["x-identity-header"]).toBeUndefined();
    const [exchange] = federation.entra.requests.filter((r) => r.path.endsWith("/token"));
    expect(claimsOf(exchange?.form.client_assertion ?? "")).toMatchObject({
      iss: `${federation.imds.authorityHost}/${HOME_TENANT}/v2.0`,
      sub: BILLING.objectId,
      aud: EXCHANGE,
    });
  });

  it("App Service: IDENTITY_ENDPOINT and IDENTITY_HEADER, api-version 2019-08-01, mi_res_id", async () => {
    onAppService();
    const token = await getToken(fromManagedIdentity({ resourceId: BILLING.resourceId }));
    expect((await callResource(token)).status).toBe(200);
    const [request] = federation.identityRequests();
    expect(request?.endpoint).toBe("app-service");
    expect(request?.query).toEqual({
      "api-version": "2019-08-01",
      resource: EXCHANGE,
      mi_res_id: BILLING.resourceId,
    });
    expect(request?.headers["x-identity-header"]).toBe(federation.imds.identityHeader);
    expect(request?.headers.metadata).toBeUndefined();
  });

  it("objectId is object_id for IMDS and principal_id for App Service", async () => {
    onImds();
    await fromManagedIdentity({ objectId: BILLING.objectId })(context());
    onAppService();
    await fromManagedIdentity({ objectId: BILLING.objectId })(context());
    const [imds, appService] = federation.identityRequests();
    expect(imds?.query.object_id).toBe(BILLING.objectId);
    expect(appService?.query.principal_id).toBe(BILLING.objectId);
  });

  it("the system-assigned identity is another subject: Entra finds no federated credential for it", async () => {
    onImds();
    const error = await failure(getToken(fromManagedIdentity()));
    expect((error as AuthenticationError).errorResponse?.errorCodes).toEqual([700213]);
    expect(claimsOf(federation.entra.requests[0]?.form.client_assertion ?? "").sub).toBe(
      SYSTEM.objectId,
    );
  });

  it("asks once across access-token refreshes until half the token's day has passed, then again", async () => {
    onImds();
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromManagedIdentity({ clientId: BILLING.clientId }),
      { authorityHost: federation.entra.url },
    );
    cleanups.push(() => credential.close());
    const first = await credential.getToken(SCOPE);
    vi.advanceTimersByTime(3600_000);
    const second = await credential.getToken(SCOPE);
    vi.advanceTimersByTime(10 * 3600_000);
    const third = await credential.getToken(SCOPE);
    expect(new Set([first.token, second.token, third.token]).size).toBe(3);
    expect(federation.identityRequests()).toHaveLength(1);
    // 13 h on: past half of the token's 86 399 s.
    vi.advanceTimersByTime(2 * 3600_000);
    await credential.getToken(SCOPE);
    expect(federation.identityRequests()).toHaveLength(2);
  });

  it("concurrent first calls share one request", async () => {
    onImds();
    const assertion = fromManagedIdentity({ clientId: BILLING.clientId });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => assertion(context())));
    expect(new Set(tokens).size).toBe(1);
    expect(federation.identityRequests()).toHaveLength(1);
  });

  it("asks for the sovereign cloud's exchange audience, or the one given", async () => {
    onImds();
    const assertion = fromManagedIdentity({ clientId: BILLING.clientId });
    await assertion(context({ authorityHost: "https://login.microsoftonline.us" }));
    await assertion(context({ authorityHost: "https://login.chinacloudapi.cn" }));
    await assertion(context());
    expect(federation.identityRequests().map((r) => r.query.resource)).toEqual([
      "api://AzureADTokenExchangeUSGov",
      "api://AzureADTokenExchangeChina",
      EXCHANGE,
    ]);
    const other = await failure(
      fromManagedIdentity({ clientId: BILLING.clientId, audience: "api://custom" })(context()),
    );
    expect(other.message).toContain("invalid_resource");
  });

  it("by default asks IMDS at 169.254.169.254 directly, even with a proxy in the environment", async () => {
    environment();
    const proxy = await silentServer();
    vi.stubEnv("HTTPS_PROXY", proxy.url);
    vi.stubEnv("HTTP_PROXY", proxy.url);
    const asked = divertDirectConnections();
    const token = await fromManagedIdentity({ clientId: BILLING.clientId })(context());
    expect(claimsOf(token).sub).toBe(BILLING.objectId);
    expect(asked).toEqual(["169.254.169.254:80"]);
    expect(proxy.connections).toBe(0);
    expect(federation.identityRequests()[0]?.headers.host).toBe("169.254.169.254");
  });

  it("options.endpoint and options.identityHeader beat the environment", async () => {
    environment({ [IDENTITY_ENDPOINT]: "http://127.0.0.1:1/msi/token", [IDENTITY_HEADER]: "x" });
    await fromManagedIdentity({
      endpoint: federation.imds.identityEndpoint,
      identityHeader: federation.imds.identityHeader,
      clientId: BILLING.clientId,
    })(context());
    environment();
    await fromManagedIdentity({ endpoint: federation.imds.url, clientId: BILLING.clientId })(
      context(),
    );
    expect(federation.identityRequests().map((r) => r.endpoint)).toEqual(["app-service", "imds"]);
  });
});

describe("fromManagedIdentity failures", () => {
  it("no identity endpoint answers: CredentialUnavailableError", async () => {
    const closed = await silentServer();
    await cleanups.pop()?.();
    environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: closed.url });
    const error = await failure(fromManagedIdentity()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
    expect(error.message).toContain("No answer from the managed identity endpoint (IMDS)");
  });

  it("an endpoint that never answers: unavailable after requestTimeoutInMs", async () => {
    const silent = await silentServer();
    environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: silent.url });
    const error = await failure(fromManagedIdentity({ requestTimeoutInMs: 300 })(context()));
    expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
  });

  it("IMDS without any identity: CredentialUnavailableError saying to enable one", async () => {
    const bare = await startFederation({ identities: [] });
    cleanups.push(() => bare.close());
    environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: bare.imds.url });
    const error = await failure(fromManagedIdentity()(context()));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error.message).toContain("has no managed identity to give");
    expect(bare.identityRequests()).toHaveLength(1);
  });

  it("an identity that is not assigned: AuthenticationError naming the option and id, not retried", async () => {
    onImds();
    const unknown = "33333333-0000-4000-8000-000000000003";
    const error = await failure(fromManagedIdentity({ clientId: unknown })(context()));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).code).toBe("assertion_failed");
    expect((error as AuthenticationError).statusCode).toBe(400);
    expect(error.message).toContain(`Check options.clientId ${unknown}`);
    expect(federation.identityRequests()).toHaveLength(1);
  });

  it("several user-assigned identities and none named: says to name one", async () => {
    const two = await startFederation({
      identities: [BILLING, { ...BILLING, clientId: SYSTEM.clientId, objectId: SYSTEM.objectId }],
    });
    cleanups.push(() => two.close());
    environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: two.imds.url });
    const error = await failure(fromManagedIdentity()(context()));
    expect(error.message).toContain("Name the identity with options.clientId");
  });

  it("a wrong identity header is refused, and never printed, even when the server echoes it", async () => {
    environment({
      [IDENTITY_ENDPOINT]: federation.imds.identityEndpoint,
      [IDENTITY_HEADER]: "wrong-secret-header-value",
    });
    const error = await failure(fromManagedIdentity()(context()));
    expect((error as AuthenticationError).statusCode).toBe(401);
    expect(error.message).toContain("Check IDENTITY_HEADER");
    expect(inspect(error)).not.toContain("wrong-secret-header-value");
    onAppService();
    federation.imds.faults.push(
      {
        status: 500,
        body: JSON.stringify({
          error: "boom",
          error_description: `bad ${federation.imds.identityHeader}`,
        }),
      },
      4,
    );
    const echoed = await failure(fromManagedIdentity(FAST)(context()));
    expect(echoed.message).toContain("bad [redacted]");
    expect(inspect(echoed)).not.toContain(federation.imds.identityHeader);
    expect(JSON.stringify(echoed)).not.toContain(federation.imds.identityHeader);
  });

  it("retries 404, 410, 429 and 5xx with backoff, honouring Retry-After, then gives up", async () => {
    onImds();
    for (const status of [404, 410, 429, 500, 503]) {
      federation.imds.faults.push({ status, body: "{}" });
    }
    const token = await fromManagedIdentity({
      clientId: BILLING.clientId,
      retryOptions: { maxRetries: 5, retryDelayInMs: 10 },
    })(context());
    expect(claimsOf(token).sub).toBe(BILLING.objectId);
    expect(federation.identityRequests()).toHaveLength(6);
    federation.imds.reset();
    federation.imds.faults.push({ status: 503, body: "{}", headers: { "retry-after": "0" } }, 4);
    const error = await failure(
      fromManagedIdentity({ clientId: BILLING.clientId, ...FAST })(context()),
    );
    expect(error.message).toContain("HTTP 503, after 4 attempts");
    expect(federation.identityRequests()).toHaveLength(4);
  });

  it("another cloud's metadata service at the IMDS address is unavailable at once (a chain moves on), not a refusal", async () => {
    onImds();
    const foreign: Array<{ status: number; headers: Record<string, string>; body: string }> = [
      // AWS EC2's metadata service: 404 HTML for an unknown path; 401 empty when IMDSv2 is required.
      {
        status: 404,
        headers: { "content-type": "text/html", server: "EC2ws" },
        body: "<html><head><title>404 - Not Found</title></head></html>",
      },
      { status: 401, headers: { "content-type": "text/plain" }, body: "" },
      // Google's metadata server answers with Metadata-Flavor: Google.
      {
        status: 404,
        headers: { "content-type": "text/html", "metadata-flavor": "Google" },
        body: "Not Found",
      },
      { status: 403, headers: { "content-type": "text/html" }, body: "Forbidden" },
    ];
    for (const answer of foreign) {
      federation.imds.reset();
      federation.imds.faults.push(answer);
      const error = await failure(
        fromManagedIdentity({ retryOptions: { maxRetries: 3 } })(context()),
      );
      expect(error, JSON.stringify(answer)).toBeInstanceOf(CredentialUnavailableError);
      expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
      expect(error.message).toContain("Something other than Azure IMDS answered");
      expect(error.message).toContain(`HTTP ${answer.status}`);
      // Not retried: the other cloud's service will not turn into IMDS.
      expect(federation.identityRequests()).toHaveLength(1);
    }
    federation.imds.reset();
    federation.imds.faults.push(foreign[0] as (typeof foreign)[number]);
    const chained = chainAssertions(fromManagedIdentity(), async () => "next-source-token");
    expect(await chained(context())).toBe("next-source-token");
    // IMDS's own 404 (an identity not ready yet), JSON or not, is still retried.
    for (const body of ["{}", "Not Found"]) {
      federation.imds.reset();
      federation.imds.faults.push({ status: 404, body });
      const token = await fromManagedIdentity({ clientId: BILLING.clientId, ...FAST })(context());
      expect(claimsOf(token).sub).toBe(BILLING.objectId);
      expect(federation.identityRequests()).toHaveLength(2);
    }
    // A bare 404 that stays one after the retries: something else answered.
    federation.imds.reset();
    federation.imds.faults.push({ status: 404, body: "Not Found" }, 3);
    const bare = await failure(
      fromManagedIdentity({ retryOptions: { maxRetries: 2, retryDelayInMs: 10 } })(context()),
    );
    expect(bare).toBeInstanceOf(CredentialUnavailableError);
    expect(bare.message).toContain("Something other than Azure IMDS answered");
    expect(federation.identityRequests()).toHaveLength(3);
  });

  it("answers that are not a token: not JSON, no access_token, not a JWT, no expiry", async () => {
    onImds();
    const jwt = (payload: object) =>
      `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.c2ln`;
    const cases: Array<[string, RegExp]> = [
      ["<html>", /not a JSON object/],
      [JSON.stringify({ token_type: "Bearer" }), /without an access_token/],
      [JSON.stringify({ access_token: "opaque-token-value" }), /without an access_token/],
      [JSON.stringify({ access_token: jwt({ sub: "x" }) }), /without expires_on/],
      [JSON.stringify({ access_token: jwt({ sub: "x" }), expires_on: "1000" }), /expired at/],
    ];
    for (const [body, expected] of cases) {
      federation.imds.faults.push({ status: 200, body });
      const error = await failure(fromManagedIdentity({ clientId: BILLING.clientId })(context()));
      expect((error as AuthenticationError).code, body).toBe("assertion_failed");
      expect(error.message, body).toMatch(expected);
      expect(inspect(error)).not.toContain("opaque-token-value");
    }
  });

  it("expires_in or the token's exp stand in for a missing expires_on", async () => {
    onImds();
    vi.useFakeTimers({ toFake: ["Date"] });
    const exp = Math.floor(Date.now() / 1000) + 7300;
    const token = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.c2ln`;
    federation.imds.faults.push({ status: 200, body: JSON.stringify({ access_token: token }) });
    const assertion = fromManagedIdentity({ clientId: BILLING.clientId });
    expect(await assertion(context())).toBe(token);
    // Kept until half its lifetime (over 2 hours): 3650 s.
    vi.advanceTimersByTime(3500_000);
    expect(await assertion(context())).toBe(token);
    vi.advanceTimersByTime(200_000);
    expect(await assertion(context())).not.toBe(token);
  });

  it("a redirect is refused and never followed; an oversized body fails; a dropped connection is unavailable", async () => {
    onImds();
    const elsewhere = await silentServer();
    federation.imds.faults.push({ status: 307, headers: { location: `${elsewhere.url}/token` } });
    const redirected = await failure(
      fromManagedIdentity({ clientId: BILLING.clientId })(context()),
    );
    expect(redirected).toBeInstanceOf(CredentialUnavailableError);
    expect(redirected.message).toContain("redirect");
    expect(elsewhere.connections).toBe(0);
    federation.imds.faults.push({ status: 200, body: " ".repeat(100 * 1024) });
    const oversized = await failure(fromManagedIdentity({ clientId: BILLING.clientId })(context()));
    expect((oversized as AuthenticationError).code).toBe("assertion_failed");
    expect(oversized.message).toMatch(/KiB/);
    federation.imds.faults.push({ drop: true });
    const dropped = await failure(fromManagedIdentity({ clientId: BILLING.clientId })(context()));
    expect(dropped).toBeInstanceOf(CredentialUnavailableError);
  });

  it("abort rejects at once with an AbortError, also while waiting to retry", async () => {
    const silent = await silentServer();
    environment({ [AZURE_POD_IDENTITY_AUTHORITY_HOST]: silent.url });
    const controller = new AbortController();
    const pending = fromManagedIdentity()(context({ abortSignal: controller.signal }));
    await vi.waitFor(() => expect(silent.connections).toBe(1), { timeout: 10_000 });
    controller.abort();
    expect((await failure(pending)).name).toBe("AbortError");

    onImds();
    federation.imds.faults.push({ status: 503, body: "{}" });
    const waiting = new AbortController();
    const retrying = fromManagedIdentity({
      clientId: BILLING.clientId,
      retryOptions: { retryDelayInMs: 60_000 },
    })(context({ abortSignal: waiting.signal }));
    await vi.waitFor(() => expect(federation.identityRequests()).toHaveLength(1), {
      timeout: 10_000,
    });
    waiting.abort();
    expect((await failure(retrying)).name).toBe("AbortError");
  });

  it("an identity header with a trailing line break is trimmed; one with a line break inside is refused at the factory, never shown", async () => {
    environment({
      [IDENTITY_ENDPOINT]: federation.imds.identityEndpoint,
      [IDENTITY_HEADER]: `${federation.imds.identityHeader}\n`,
    });
    const token = await fromManagedIdentity({ clientId: BILLING.clientId })(context());
    expect(claimsOf(token).sub).toBe(BILLING.objectId);
    environment({
      [IDENTITY_ENDPOINT]: federation.imds.identityEndpoint,
      [IDENTITY_HEADER]: "hdr-secret-part\r\nX-Injected: 1",
    });
    let error: unknown;
    try {
      fromManagedIdentity();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "invalid_configuration" });
    expect((error as Error).message).toContain("IDENTITY_HEADER holds a space, a line break");
    expect(inspect(error) + JSON.stringify(error)).not.toContain("hdr-secret-part");
    expect(() => fromManagedIdentity({ identityHeader: "  " })).toThrow(
      "options.identityHeader must be a non-empty string.",
    );
  });

  it("Azure Arc, Service Fabric and a lone IDENTITY_ENDPOINT are unavailable, each said", async () => {
    environment({
      [IDENTITY_ENDPOINT]: "http://localhost:40342/metadata/identity/oauth2/token",
      IMDS_ENDPOINT: "http://localhost:40342",
    });
    expect((await failure(fromManagedIdentity()(context()))).message).toContain("Azure Arc");
    environment({
      [IDENTITY_ENDPOINT]: "https://10.0.0.4:2377/metadata/identity/oauth2/token",
      [IDENTITY_HEADER]: "h",
      IDENTITY_SERVER_THUMBPRINT: "abc",
    });
    expect((await failure(fromManagedIdentity()(context()))).message).toContain("Service Fabric");
    environment({ [IDENTITY_ENDPOINT]: federation.imds.identityEndpoint });
    const lone = await failure(fromManagedIdentity()(context()));
    expect(lone).toBeInstanceOf(CredentialUnavailableError);
    expect(lone.message).toContain("without IDENTITY_HEADER");
    expect(federation.identityRequests()).toHaveLength(0);
  });

  it("invalid options and variables throw at the factory, naming them", () => {
    environment();
    const throws = (options: Parameters<typeof fromManagedIdentity>[0], pattern: RegExp) => {
      let thrown: unknown;
      try {
        fromManagedIdentity(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(CredentialUnavailableError);
      expect((thrown as CredentialUnavailableError).code).toBe("invalid_configuration");
      expect((thrown as Error).message).toMatch(pattern);
    };
    throws({ clientId: BILLING.clientId, objectId: BILLING.objectId }, /at most one of/);
    throws({ clientId: "billing" }, /options\.clientId must be/);
    throws({ resourceId: "billing" }, /options\.resourceId must be/);
    throws({ endpoint: "http://10.0.0.5/msi/token" }, /plain http goes only to loopback/);
    throws({ endpoint: "not a url" }, /options\.endpoint is not an absolute URL/);
    throws({ audience: "" }, /options\.audience/);
    throws({ requestTimeoutInMs: 0 }, /requestTimeoutInMs/);
    throws({ retryOptions: { maxRetries: -1 } }, /maxRetries/);
    vi.stubEnv(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://10.0.0.5:2579");
    throws({}, /AZURE_POD_IDENTITY_AUTHORITY_HOST names http:\/\/10\.0\.0\.5:2579/);
    vi.stubEnv(AZURE_POD_IDENTITY_AUTHORITY_HOST, "");
    vi.stubEnv(IDENTITY_ENDPOINT, "ftp://x");
    throws({}, /IDENTITY_ENDPOINT must be an http or https URL/);
  });
});
