import { inspect } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  CredentialUnavailableError,
  decodeJwtPayload,
  FedcredError,
} from "../src/index.js";
import { VERSION } from "../src/version.js";
import {
  CLIENT,
  entraError,
  fakeJwt,
  rejection,
  SCOPE,
  startTokenServer,
  TENANT,
  type TokenServer,
  tokenSuccess,
} from "./token-server.js";

const ASSERTION = fakeJwt({
  iss: "https://issuer.example",
  sub: "system:serviceaccount:prod:billing",
  aud: "api://AzureADTokenExchange",
  nbf: 1_700_000_000,
  exp: 1_700_200_000,
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server: TokenServer;

beforeEach(async () => {
  server = await startTokenServer();
});

afterEach(async () => {
  await server.close();
});

function credential(
  options: ClientAssertionCredentialOptions = {},
  tenantId = TENANT,
): ClientAssertionCredential {
  return new ClientAssertionCredential(tenantId, CLIENT, () => ASSERTION, {
    authorityHost: server.authorityHost,
    retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 10 },
    ...options,
  });
}

async function withLog<T>(work: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const original = AzureLogger.log;
  AzureLogger.log = (...args: unknown[]) => lines.push(args.join(" "));
  setLogLevel("info");
  try {
    const result = await work();
    // The first line loads @azure/logger (an ES module build holds lines until it has).
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { result, lines };
  } finally {
    AzureLogger.log = original;
    setLogLevel();
  }
}

describe("what goes over the wire with each token request", () => {
  it("sends User-Agent with the caller's prefix, fedcred-core and Node, and a fresh client-request-id", async () => {
    server.replies.push({ status: 503, body: "" });
    await credential({ userAgentOptions: { userAgentPrefix: "billing-svc/2.1" } }).getToken(SCOPE);
    expect(server.requests).toHaveLength(2);
    const [first, second] = server.requests;
    expect(first?.headers["user-agent"]).toBe(
      `billing-svc/2.1 fedcred-core/${VERSION} Node/${process.versions.node}`,
    );
    expect(first?.headers["return-client-request-id"]).toBe("true");
    expect(first?.headers["client-request-id"]).toMatch(UUID);
    expect(second?.headers["client-request-id"]).toMatch(UUID);
    expect(second?.headers["client-request-id"]).not.toBe(first?.headers["client-request-id"]);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("puts the client-request-id in the log line and in the error", async () => {
    server.replies.push(entraError(401, "invalid_client", 700213));
    const { result: error, lines } = await withLog(() => rejection(credential().getToken(SCOPE)));
    const sent = server.requests[0]?.headers["client-request-id"] as string;
    expect(error.clientRequestId).toBe(sent);
    expect(lines.some((line) => line.includes(`client-request-id=${sent}`))).toBe(true);
    expect(error.message).toContain(sent);
  });
});

describe("the token object", () => {
  it("is a plain object whose token survives spreads, structuredClone and Object.assign, yet prints redacted", async () => {
    const token = await credential().getToken(SCOPE);
    const issued = server.issued[0];
    expect({ ...token }.token).toBe(issued);
    expect(structuredClone(token).token).toBe(issued);
    expect(Object.assign({}, token).token).toBe(issued);
    expect(Object.keys(token).sort()).toEqual(
      ["expiresOnTimestamp", "refreshAfterTimestamp", "token", "tokenType"].sort(),
    );
    expect(JSON.stringify(token)).not.toContain(issued);
    expect(JSON.stringify(token)).toContain("[redacted]");
    expect(inspect(token)).not.toContain(issued);
    expect(inspect(token)).toContain("[redacted]");
    // Every cache hit shares it: no caller can change it for the others.
    expect(Object.isFrozen(token)).toBe(true);
    expect(() => {
      (token as { token: string }).token = "changed";
    }).toThrow(TypeError);
    expect((await credential().getToken(SCOPE)).token).not.toBe("changed");
  });
});

describe("tenant ids and client ids", () => {
  it("compares tenant ids without regard to case: one cache entry for two spellings", async () => {
    const cred = credential({ additionallyAllowedTenants: ["CONTOSO.onmicrosoft.com"] });
    const first = await cred.getToken(SCOPE);
    expect(await cred.getToken(SCOPE, { tenantId: TENANT.toUpperCase() })).toBe(first);
    await cred.getToken(SCOPE, { tenantId: "contoso.ONMICROSOFT.com" });
    expect(await cred.getToken(SCOPE, { tenantId: "Contoso.OnMicrosoft.Com" })).toBeTruthy();
    expect(server.requests).toHaveLength(2);
  });

  it("echoes an invalid id JSON-quoted, so a trailing CR or space shows", () => {
    expect(() => credential({}, `${TENANT}\r`)).toThrow(JSON.stringify(`${TENANT}\r`));
    for (const clientId of [`${CLIENT} `, ` ${CLIENT}`, `${CLIENT}\n`, `a\u0000b`]) {
      let error: unknown;
      try {
        new ClientAssertionCredential(TENANT, clientId, () => ASSERTION);
      } catch (e) {
        error = e;
      }
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(JSON.stringify(clientId));
    }
  });
});

describe("authority host forms", () => {
  it("does not double a tenant given at the end of the authority host", async () => {
    for (const host of [
      `${server.authorityHost}/${TENANT}`,
      `${server.authorityHost}/${TENANT.toUpperCase()}/`,
    ]) {
      await credential({ authorityHost: host }).getToken(SCOPE);
    }
    expect(server.requests.map((r) => r.path)).toEqual([
      `/${TENANT}/oauth2/v2.0/token`,
      `/${TENANT}/oauth2/v2.0/token`,
    ]);
  });

  it("reads the issuer URL {host}/{tenant}/v2.0 as the authority host", async () => {
    await credential({ authorityHost: `${server.authorityHost}/${TENANT}/v2.0` }).getToken(SCOPE);
    expect(server.requests[0]?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
  });

  it("keeps any other path as a prefix, for gateways", async () => {
    await credential({ authorityHost: `${server.authorityHost}/gateway/entra/` }).getToken(SCOPE);
    expect(server.requests[0]?.path).toBe(`/gateway/entra/${TENANT}/oauth2/v2.0/token`);
  });

  it("refuses a token-endpoint URL, a query, a fragment or user info, showing the expected form", () => {
    for (const authorityHost of [
      `${server.authorityHost}/${TENANT}/oauth2/v2.0/token`,
      `${server.authorityHost}/${TENANT}/oauth2%2Fv2.0/token`,
      `${server.authorityHost}/?x=1`,
      `${server.authorityHost}/#frag`,
      server.authorityHost.replace("http://", "http://user:pass@"),
    ]) {
      let error: unknown;
      try {
        credential({ authorityHost });
      } catch (e) {
        error = e;
      }
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain("https://login.microsoftonline.com");
      expect((error as Error).message).not.toContain("pass@");
    }
  });

  it("names the URL called when the token endpoint answers 404", async () => {
    server.replies.push({ status: 404, body: "<html>Not Found</html>" });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.message).toContain(`${server.authorityHost}/${TENANT}/oauth2/v2.0/token`);
    expect(error.message).toMatch(/authorityHost/);
  });
});

describe("messages", () => {
  it("keeps Entra's trace and correlation ids whole and prints each once", async () => {
    const traceId = "0d6d2f1c-7b40-4b44-9bde-5b0a1c9d4300";
    const correlationId = "a3f2d6b1-2b9e-4b21-8b3c-4f1e2d3c4b5a";
    const description = `AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:prod:billing'. ${"Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ".repeat(6)}Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: 2026-11-26 04:36:45Z`;
    server.replies.push({
      status: 401,
      body: {
        error: "invalid_client",
        error_description: description,
        error_codes: [700213],
        trace_id: traceId,
        correlation_id: correlationId,
      },
    });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.message.split(traceId)).toHaveLength(2);
    expect(error.message.split(correlationId)).toHaveLength(2);
    expect(error.errorResponse?.errorDescription).toBe(description);
  });

  it("prints the ids once when Entra's description is all that carries them", async () => {
    const traceId = "0d6d2f1c-7b40-4b44-9bde-5b0a1c9d4300";
    const correlationId = "a3f2d6b1-2b9e-4b21-8b3c-4f1e2d3c4b5a";
    server.replies.push({
      status: 400,
      body: {
        error: "invalid_request",
        error_description: `AADSTS90002: Tenant not found. Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: 2026-11-26 04:36:45Z`,
      },
    });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.message.split(traceId)).toHaveLength(2);
    expect(error.message.split(correlationId)).toHaveLength(2);
    expect(error.errorResponse?.correlationId).toBe(correlationId);
  });

  it("calls JSON that is not an Entra error by its name", async () => {
    server.replies.push({ status: 404, body: {} });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.message).toMatch(/JSON that is not an Entra error/);
  });

  it('says "1 attempt" and "2 attempts", and never "a undefined"', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const one = await rejection(
      credential({ authorityHost: unreachable, retryOptions: { maxRetries: 0 } }).getToken(SCOPE),
    );
    expect(one.message).toMatch(/\(1 attempt\)/);
    const two = await rejection(
      credential({
        authorityHost: unreachable,
        retryOptions: { maxRetries: 1, retryDelayInMs: 1 },
      }).getToken(SCOPE),
    );
    expect(two.message).toMatch(/\(2 attempts\)/);
    const returnsUndefined = new ClientAssertionCredential(
      TENANT,
      CLIENT,
      () => undefined as unknown as string,
      { authorityHost: server.authorityHost },
    );
    const error = await rejection(returnsUndefined.getToken(SCOPE));
    expect(error.message).not.toMatch(/\ba undefined\b/);
  });

  it("reads a plain-text 429 as throttling", async () => {
    server.replies.push({ status: 429, body: "Too many requests, slow down" });
    const error = await rejection(credential({ retryOptions: { maxRetries: 0 } }).getToken(SCOPE));
    expect(error.message).toMatch(/throttling/);
    expect(error.message).not.toMatch(/check the authority host/);
  });

  it("throws a FedcredError with a code from decodeJwtPayload", () => {
    for (const value of ["not a jwt", "a.b", "a.!!!.c", null]) {
      let error: unknown;
      try {
        decodeJwtPayload(value as string);
      } catch (e) {
        error = e;
      }
      expect(FedcredError.isInstance(error)).toBe(true);
      expect((error as FedcredError).code).toBe("invalid_jwt");
    }
  });

  for (const [code, pattern] of [
    [70011, /one resource per request/],
    [70023, /1 day 1 hour/],
    [50196, /reuse/],
    [90002, /tenant was not found/],
  ] as const) {
    it(`hints at AADSTS${code}`, async () => {
      server.replies.push(entraError(400, "invalid_request", code));
      const error = await rejection(credential().getToken(SCOPE));
      expect(error.message).toMatch(pattern);
    });
  }
});

describe("options of @azure/identity", () => {
  it("logs the issued token's appid, tid and oid with allowLoggingAccountIdentifiers", async () => {
    const accessToken = fakeJwt({ appid: CLIENT, tid: TENANT, oid: "oid-123" });
    server.replies.push(tokenSuccess(accessToken));
    const { lines } = await withLog(() =>
      credential({ loggingOptions: { allowLoggingAccountIdentifiers: true } }).getToken(SCOPE),
    );
    const line = lines.find((l) => l.includes("oid-123"));
    expect(line).toContain(CLIENT);
    expect(line).toContain(TENANT);
    expect(lines.join("\n")).not.toContain(accessToken);
  });

  it("prints only what looks like an id from the token's appid, tid and oid", async () => {
    const accessToken = fakeJwt({
      appid: `x\nazure:fedcred:info forged line`,
      tid: "t\u001b[2J",
      oid: "o".repeat(5000),
    });
    server.replies.push(tokenSuccess(accessToken));
    const { lines } = await withLog(() =>
      credential({ loggingOptions: { allowLoggingAccountIdentifiers: true } }).getToken(SCOPE),
    );
    const line = lines.find((l) => l.includes("[Authenticated account]")) ?? "";
    expect(line).toBe(
      "azure:fedcred:info [Authenticated account] Client ID: (not an id). Tenant ID: (not an id). Object ID: (not an id).",
    );
  });

  it("refuses a userAgentPrefix that cannot be a header value, at construction", () => {
    for (const userAgentPrefix of ["app/1.0\r\nX-Injected: 1", "アプリ/1.0", "x".repeat(300)]) {
      expect(() => credential({ userAgentOptions: { userAgentPrefix } })).toThrow(
        CredentialUnavailableError,
      );
    }
  });

  it("logs no account identifiers by default", async () => {
    server.replies.push(tokenSuccess(fakeJwt({ appid: CLIENT, tid: TENANT, oid: "oid-123" })));
    const { lines } = await withLog(() => credential().getToken(SCOPE));
    expect(lines.join("\n")).not.toContain("oid-123");
  });

  it("warns once per credential about each option that has no effect", async () => {
    const { lines } = await withLog(async () => {
      credential({ redirectOptions: { maxRetries: 3 }, allowInsecureConnection: true });
    });
    expect(lines.filter((l) => l.includes("redirectOptions"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("allowInsecureConnection"))).toHaveLength(1);
  });

  it("sends through httpClient when both httpClient and fetch are given, and says proxy and TLS options are its own", async () => {
    const seen: string[] = [];
    const httpClient = {
      sendRequest: async (request: { url: string }) => {
        seen.push(`httpClient ${request.url}`);
        return {
          status: 200,
          headers: { get: () => undefined },
          bodyAsText: JSON.stringify({
            token_type: "Bearer",
            expires_in: 3599,
            access_token: "hc",
          }),
        };
      },
    };
    const fetch = async () => {
      seen.push("fetch");
      throw new Error("fetch must not be used");
    };
    const { result: token, lines } = await withLog(() =>
      credential({
        httpClient,
        fetch,
        proxyOptions: { host: "http://proxy.example", port: 3128 },
        tlsOptions: { ca: "not used" },
      }).getToken(SCOPE),
    );
    expect(token.token).toBe("hc");
    expect(seen).toEqual([`httpClient ${server.authorityHost}/${TENANT}/oauth2/v2.0/token`]);
    expect(lines.filter((l) => /options\.proxyOptions has no effect/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /options\.tlsOptions has no effect/.test(l))).toHaveLength(1);
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
