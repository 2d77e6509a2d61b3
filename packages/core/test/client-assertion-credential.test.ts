import { inspect } from "node:util";
import { AzureLogger, getLogLevel, setLogLevel } from "@azure/logger";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "../src/index.js";
import {
  CLIENT,
  entraError,
  fakeJwt,
  pollUntil,
  SCOPE,
  startTokenServer,
  TENANT,
  type TokenServer,
  tokenSuccess,
} from "./token-server.js";

const ASSERTION = fakeJwt({
  iss: "https://kubernetes.default.svc",
  sub: "system:serviceaccount:prod:billing",
  aud: "api://AzureADTokenExchange",
  exp: 4_000_000_000,
});

let server: TokenServer;

beforeEach(async () => {
  server = await startTokenServer();
});

afterEach(async () => {
  vi.useRealTimers();
  await server.close();
});

/** Watches the Azure SDK log for a line containing `text` until `stop()`; lines still go on. */
function logged(text: string): { seen(): boolean; stop(): void } {
  const original = AzureLogger.log;
  const level = getLogLevel();
  let seen = false;
  AzureLogger.log = (...args: unknown[]) => {
    if (args.map(String).join(" ").includes(text)) seen = true;
    original(...args);
  };
  if (level !== "verbose" && level !== "info") setLogLevel("warning");
  return {
    seen: () => seen,
    stop: () => {
      AzureLogger.log = original;
      setLogLevel(level as never);
    },
  };
}

function credential(
  getAssertion: (context: AssertionContext) => string | Promise<string> = () => ASSERTION,
  options: ConstructorParameters<typeof ClientAssertionCredential>[3] = {},
): ClientAssertionCredential {
  return new ClientAssertionCredential(TENANT, CLIENT, getAssertion, {
    authorityHost: server.authorityHost,
    retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    ...options,
  });
}

describe("the token request", () => {
  it("posts exactly the client-credentials form to the tenant's v2 token endpoint", async () => {
    const contexts: AssertionContext[] = [];
    const cred = credential((context) => {
      contexts.push(context);
      return ASSERTION;
    });
    const token = await cred.getToken([SCOPE]);
    expect(token.token).toBe(server.issued[0]);
    expect(token.tokenType).toBe("Bearer");
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(request?.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request?.form).toEqual({
      client_id: CLIENT,
      scope: SCOPE,
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: ASSERTION,
    });
    expect(contexts).toHaveLength(1);
    expect(contexts[0]).toMatchObject({
      clientId: CLIENT,
      tenantId: TENANT,
      authorityHost: server.authorityHost,
      tokenEndpoint: `${server.authorityHost}/${TENANT}/oauth2/v2.0/token`,
    });
    expect(contexts[0]?.abortSignal).toBeInstanceOf(AbortSignal);
  });

  it("accepts a zero-argument assertion function, as @azure/identity users have", async () => {
    const cred = credential(async () => ASSERTION);
    await expect(cred.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(server.requests[0]?.form.client_assertion).toBe(ASSERTION);
  });

  it("joins several scopes with spaces and caches them regardless of order", async () => {
    const cred = credential();
    const scopes = ["https://b.example/.default", "https://a.example/.default"];
    const first = await cred.getToken(scopes);
    expect(server.requests[0]?.form.scope).toBe(
      "https://b.example/.default https://a.example/.default",
    );
    const second = await cred.getToken([...scopes].reverse());
    expect(second.token).toBe(first.token);
    expect(server.requests).toHaveLength(1);
  });

  it("computes expiry from expires_in, and accepts numbers sent as strings", async () => {
    server.replies.push(tokenSuccess("string-numbers", "3600", { ext_expires_in: "3600" }));
    const before = Date.now();
    const token = await credential().getToken(SCOPE);
    expect(token.expiresOnTimestamp).toBeGreaterThanOrEqual(before + 3600_000);
    expect(token.expiresOnTimestamp).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect(token.refreshAfterTimestamp).toBe(token.expiresOnTimestamp - 5 * 60_000);
  });

  it("refreshes half way through tokens of two hours or more, and at refresh_in when sent", async () => {
    server.replies.push(tokenSuccess("long", 24 * 3600));
    const long = await credential().getToken(SCOPE);
    expect(long.expiresOnTimestamp - (long.refreshAfterTimestamp ?? 0)).toBe(12 * 3600_000);
    server.replies.push(tokenSuccess("hinted", 86399, { refresh_in: 43199 }));
    const hinted = await credential().getToken(SCOPE);
    expect(hinted.expiresOnTimestamp - (hinted.refreshAfterTimestamp ?? 0)).toBe(43200_000);
    server.replies.push(tokenSuccess("short", 360));
    const short = await credential().getToken(SCOPE);
    expect(short.expiresOnTimestamp - (short.refreshAfterTimestamp ?? 0)).toBe(180_000);
  });

  it("rejects an answer without access_token, and one that is not JSON", async () => {
    server.replies.push({ status: 200, body: { token_type: "Bearer", expires_in: 3599 } });
    const error = await credential()
      .getToken(SCOPE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "invalid_token_response", statusCode: 200 });
    server.replies.push({ status: 200, body: '{"access_token": "trunc' });
    await expect(credential().getToken(SCOPE)).rejects.toMatchObject({
      code: "invalid_token_response",
    });
  });
});

describe("the cache", () => {
  it("serves a cache hit without calling the assertion function or sending a request", async () => {
    const getAssertion = vi.fn(() => ASSERTION);
    const cred = credential(getAssertion);
    const first = await cred.getToken(SCOPE);
    for (let i = 0; i < 10; i++) {
      expect((await cred.getToken(SCOPE)).token).toBe(first.token);
      expect(
        (await cred.getToken([SCOPE], { abortSignal: new AbortController().signal })).token,
      ).toBe(first.token);
    }
    expect(getAssertion).toHaveBeenCalledTimes(1);
    expect(server.requests).toHaveLength(1);
  });

  it("sends one request for 100 concurrent first calls", async () => {
    const getAssertion = vi.fn(async () => ASSERTION);
    server.replies.push({
      ...(tokenSuccess("shared") as { status: number; body: unknown }),
      delayMs: 50,
    });
    const cred = credential(getAssertion);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => cred.getToken(SCOPE)));
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(["shared"]));
    expect(server.requests).toHaveLength(1);
    expect(getAssertion).toHaveBeenCalledTimes(1);
  });

  it("keys tokens by tenant, scopes and CAE mode", async () => {
    const cred = credential(undefined, { additionallyAllowedTenants: ["contoso.onmicrosoft.com"] });
    await cred.getToken(SCOPE);
    await cred.getToken(SCOPE, { enableCae: true });
    await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" });
    await cred.getToken("https://vault.azure.net/.default");
    expect(server.requests).toHaveLength(4);
    await cred.getToken(SCOPE);
    await cred.getToken(SCOPE, { enableCae: true });
    await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" });
    expect(server.requests).toHaveLength(4);
    expect(server.requests[1]?.form.claims).toBe('{"access_token":{"xms_cc":{"values":["cp1"]}}}');
    expect(server.requests[2]?.path).toBe("/contoso.onmicrosoft.com/oauth2/v2.0/token");
  });

  it("bypasses the cache for a claims challenge, merges CAE, and replaces the cached token", async () => {
    const cred = credential();
    const first = await cred.getToken(SCOPE, { enableCae: true });
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
    const challenged = await cred.getToken(SCOPE, { enableCae: true, claims });
    expect(challenged.token).not.toBe(first.token);
    expect(server.requests).toHaveLength(2);
    expect(JSON.parse(server.requests[1]?.form.claims ?? "")).toEqual({
      access_token: { xms_cc: { values: ["cp1"] }, nbf: { essential: true, value: "1700000000" } },
    });
    expect((await cred.getToken(SCOPE, { enableCae: true })).token).toBe(challenged.token);
    expect(server.requests).toHaveLength(2);
  });

  it("sends claims as given when CAE is off, and refuses claims that are not JSON", async () => {
    const cred = credential();
    await cred.getToken(SCOPE, { claims: '{"id_token":{"acrs":{"value":"c1"}}}' });
    expect(server.requests[0]?.form.claims).toBe('{"id_token":{"acrs":{"value":"c1"}}}');
    await expect(cred.getToken(SCOPE, { claims: "not json" })).rejects.toMatchObject({
      name: "CredentialUnavailableError",
      code: "invalid_configuration",
    });
    expect(server.requests).toHaveLength(1);
  });

  it("refreshes in the background: callers get the valid token at once, then the new one", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const cred = credential();
    const first = await cred.getToken(SCOPE);
    vi.advanceTimersByTime(56 * 60_000);
    server.replies.push({
      ...(tokenSuccess("refreshed") as { status: number; body: unknown }),
      delayMs: 100,
    });
    const during = await cred.getToken(SCOPE);
    expect(during.token).toBe(first.token);
    expect((await cred.getToken(SCOPE)).token).toBe(first.token);
    await vi.waitFor(() => expect(server.requests).toHaveLength(2), { timeout: 10_000 });
    await vi.waitFor(async () => expect((await cred.getToken(SCOPE)).token).toBe("refreshed"), {
      timeout: 10_000,
    });
    expect(server.requests).toHaveLength(2);
  });

  it("keeps serving a valid token while the assertion source fails, retrying no sooner than 30 s", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    let failing = false;
    const getAssertion = vi.fn(() => {
      if (failing) throw new Error("TokenRequest API is down");
      return ASSERTION;
    });
    const cred = credential(getAssertion);
    const first = await cred.getToken(SCOPE);
    failing = true;
    vi.advanceTimersByTime(56 * 60_000);
    for (let i = 0; i < 5; i++) {
      expect((await cred.getToken(SCOPE)).token).toBe(first.token);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(getAssertion).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(29_000);
    expect((await cred.getToken(SCOPE)).token).toBe(first.token);
    expect(getAssertion).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(2_000);
    expect((await cred.getToken(SCOPE)).token).toBe(first.token);
    await vi.waitFor(() => expect(getAssertion).toHaveBeenCalledTimes(3), { timeout: 10_000 });
    expect(server.requests).toHaveLength(1);
  });

  it("keeps serving a valid token while Entra answers 500, and never returns an expired one", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const cred = credential(undefined, { retryOptions: { maxRetries: 0 } });
    const first = await cred.getToken(SCOPE);
    vi.advanceTimersByTime(first.expiresOnTimestamp - 60_000 - Date.now());
    server.replies.push(entraError(500, "temporarily_unavailable", 50000));
    // The background refresh's failure is logged once handled: wait for that, not only for the
    // request to arrive, or the next call could join the refresh still under way.
    const refreshFailed = logged("background refresh failed");
    try {
      expect((await cred.getToken(SCOPE)).token).toBe(first.token);
      expect(await pollUntil(() => refreshFailed.seen())).toBe(true);
    } finally {
      refreshFailed.stop();
    }
    expect(server.requests).toHaveLength(2);
    vi.advanceTimersByTime(first.expiresOnTimestamp - Date.now());
    server.replies.push(entraError(500, "temporarily_unavailable", 50000));
    const error = await cred.getToken(SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ statusCode: 500 });
    // An outage is said as one, not as a refusal to fix.
    expect((error as Error).message).toMatch(
      /^Entra ID could not answer the token request \(500 temporarily_unavailable, AADSTS50000\)\..* Entra ID is unavailable for now; try again later\./,
    );
    expect(server.requests).toHaveLength(3);
    // The failure paused the key for the default 5 s cool-down.
    await expect(cred.getToken(SCOPE)).rejects.toMatchObject({ code: "throttled" });
    vi.advanceTimersByTime(5_000);
    const renewed = await cred.getToken(SCOPE);
    expect(renewed.token).not.toBe(first.token);
    expect(renewed.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it("close() drops tokens, aborts work and makes later calls reject", async () => {
    const cred = credential();
    await cred.getToken(SCOPE);
    server.replies.push({ hang: true });
    const pending = cred.getToken("https://vault.azure.net/.default");
    await vi.waitFor(() => expect(server.requests).toHaveLength(2), { timeout: 10_000 });
    await cred.close();
    await expect(pending).rejects.toMatchObject({ code: "credential_closed" });
    await expect(cred.getToken(SCOPE)).rejects.toBeInstanceOf(CredentialUnavailableError);
    expect(server.requests).toHaveLength(2);
  });
  it("close() during a wait between retries rejects the waiting caller as closed", async () => {
    server.replies.push({
      ...entraError(503, "temporarily_unavailable", 50000),
      headers: { "retry-after": "30" },
    } as never);
    const cred = credential(undefined, { retryOptions: { maxRetryDelayInMs: 60_000 } });
    const pending = cred.getToken(SCOPE);
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 10_000 });
    await cred.close();
    await expect(pending).rejects.toMatchObject({ code: "credential_closed" });
    expect(server.requests).toHaveLength(1);
  });
});

describe("retries", () => {
  it("retries 429 honouring Retry-After in seconds", async () => {
    server.replies.push({
      ...entraError(429, "throttled", 50196),
      headers: { "retry-after": "1" },
    } as never);
    const started = Date.now();
    const token = await credential(undefined, {
      retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 5000 },
    }).getToken(SCOPE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(token.token).toBe(server.issued[0]);
    expect(server.requests).toHaveLength(2);
  });

  it("honours Retry-After as an HTTP date, capped by maxRetryDelayInMs", async () => {
    const inOneSecond = new Date(Date.now() + 1500).toUTCString();
    server.replies.push({
      status: 503,
      body: "<html>busy</html>",
      headers: { "retry-after": inOneSecond },
    });
    server.replies.push({
      status: 503,
      body: "<html>busy</html>",
      headers: { "retry-after": "86400" },
    });
    const started = Date.now();
    await credential(undefined, {
      retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 2000 },
    }).getToken(SCOPE);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(20_000);
    expect(server.requests).toHaveLength(3);
  });

  it("retries 408, 500, 502, 503, 504 and dropped connections up to maxRetries", async () => {
    for (const status of [408, 500, 502, 503, 504]) server.replies.push({ status, body: "{}" });
    server.replies.push({ drop: true });
    const cred = credential(undefined, {
      retryOptions: { maxRetries: 6, retryDelayInMs: 1, maxRetryDelayInMs: 5 },
    });
    const token = await cred.getToken(SCOPE);
    expect(token.token).toBe(server.issued[0]);
    expect(server.requests).toHaveLength(7);
  });

  it("gives up after maxRetries with the last status", async () => {
    for (let i = 0; i < 4; i++)
      server.replies.push({ status: 502, body: "<html>Bad gateway</html>" });
    const error = await credential(undefined, {
      retryOptions: { maxRetries: 3, retryDelayInMs: 1 },
    })
      .getToken(SCOPE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ statusCode: 502, code: "token_request_failed" });
    expect((error as Error).message).toMatch(/502 Bad Gateway with an HTML or XML page/);
    expect(server.requests).toHaveLength(4);
  });

  it("reports an unreachable endpoint after retrying", async () => {
    const closed = await startTokenServer();
    const host = closed.authorityHost;
    await closed.close();
    const error = await credential(undefined, {
      authorityHost: host,
      retryOptions: { maxRetries: 2, retryDelayInMs: 1 },
    })
      .getToken(SCOPE)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AuthenticationError", code: "token_request_failed" });
    expect((error as Error).message).toMatch(/3 attempts/);
  });

  it("times out a silent endpoint after requestTimeoutInMs and retries", async () => {
    server.replies.push({ hang: true });
    const cred = credential(undefined, {
      requestTimeoutInMs: 200,
      retryOptions: { maxRetries: 1, retryDelayInMs: 1 },
    });
    await expect(cred.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(server.requests).toHaveLength(2);
  });

  it("never retries a 400 or 401", async () => {
    server.replies.push(entraError(400, "invalid_request", 1002012));
    await expect(credential().getToken(SCOPE)).rejects.toMatchObject({ statusCode: 400 });
    server.replies.push(entraError(401, "invalid_client", 700027));
    await expect(credential().getToken(SCOPE)).rejects.toMatchObject({ statusCode: 401 });
    expect(server.requests).toHaveLength(2);
  });

  it("asks for a fresh assertion once when Entra says it expired (AADSTS700024)", async () => {
    const contexts: AssertionContext[] = [];
    const cred = credential((context) => {
      contexts.push(context);
      return ASSERTION;
    });
    server.replies.push(
      entraError(
        400,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range.",
      ),
    );
    await expect(cred.getToken(SCOPE)).resolves.toMatchObject({ tokenType: "Bearer" });
    expect(contexts.map((c) => c.forceRefresh)).toEqual([undefined, true]);
    expect(server.requests).toHaveLength(2);
    server.replies.push(entraError(400, "invalid_client", 700024));
    server.replies.push(entraError(400, "invalid_client", 700024));
    const error = await cred.getToken("https://vault.azure.net/.default").catch((e: unknown) => e);
    expect((error as AuthenticationError).errorResponse?.errorCodes).toEqual([700024]);
    expect(server.requests).toHaveLength(4);
  });
});

describe("abort", () => {
  it("rejects at once when the signal is already aborted, without calling anything", async () => {
    const getAssertion = vi.fn(() => ASSERTION);
    const error = await credential(getAssertion)
      .getToken(SCOPE, { abortSignal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AbortError" });
    expect(getAssertion).not.toHaveBeenCalled();
    expect(server.requests).toHaveLength(0);
  });

  it("aborts a request in flight and the connection it holds", async () => {
    server.replies.push({ hang: true });
    const controller = new AbortController();
    const pending = credential().getToken(SCOPE, { abortSignal: controller.signal });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 10_000 });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });

  it("passes the signal to the assertion function and stops waiting for it", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = credential((context) => {
      seen = context.abortSignal;
      return new Promise<string>(() => {});
    }).getToken(SCOPE, { abortSignal: controller.signal });
    await vi.waitFor(() => expect(seen).toBeDefined(), { timeout: 10_000 });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(seen?.aborted).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it("aborts the wait between retries", async () => {
    server.replies.push({
      ...entraError(503, "temporarily_unavailable", 50000),
      headers: { "retry-after": "30" },
    } as never);
    const controller = new AbortController();
    const cred = credential(undefined, { retryOptions: { maxRetryDelayInMs: 60_000 } });
    const pending = cred.getToken(SCOPE, { abortSignal: controller.signal });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 10_000 });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(1);
  });

  it("one caller aborting does not fail the others sharing the request", async () => {
    server.replies.push({
      ...(tokenSuccess("slow") as { status: number; body: unknown }),
      delayMs: 100,
    });
    const cred = credential();
    const controller = new AbortController();
    const aborted = cred.getToken(SCOPE, { abortSignal: controller.signal });
    const patient = cred.getToken(SCOPE);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    await expect(patient).resolves.toMatchObject({ token: "slow" });
    expect(server.requests).toHaveLength(1);
  });
});

describe("tenants", () => {
  it("uses a per-call tenant only when allowed", async () => {
    const other = "contoso.onmicrosoft.com";
    await expect(credential().getToken(SCOPE, { tenantId: other })).rejects.toMatchObject({
      name: "CredentialUnavailableError",
      code: "tenant_not_allowed",
      message: expect.stringContaining("additionallyAllowedTenants"),
    });
    await credential(undefined, { additionallyAllowedTenants: [other] }).getToken(SCOPE, {
      tenantId: other,
    });
    await credential(undefined, { additionallyAllowedTenants: ["*"] }).getToken(SCOPE, {
      tenantId: "fabrikam.com",
    });
    await credential().getToken(SCOPE, { tenantId: TENANT });
    expect(server.requests.map((r) => r.path.split("/")[1])).toEqual([
      other,
      "fabrikam.com",
      TENANT,
    ]);
  });

  it("pins the configured tenant when AZURE_IDENTITY_DISABLE_MULTITENANTAUTH=true", async () => {
    vi.stubEnv("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "true");
    try {
      await credential().getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" });
      expect(server.requests[0]?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("serves a per-call tenant's token from the cache, each tenant its own, and honours the pin set later", async () => {
    const cred = credential(undefined, { additionallyAllowedTenants: ["*"] });
    const contoso = await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" });
    const fabrikam = await cred.getToken(SCOPE, { tenantId: "fabrikam.com" });
    const own = await cred.getToken(SCOPE, { tenantId: TENANT.toUpperCase() });
    expect(new Set([contoso.token, fabrikam.token, own.token]).size).toBe(3);
    // Named again, each is a cache hit, the configured tenant's in any letter case too.
    for (let i = 0; i < 3; i++) {
      expect(await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" })).toBe(contoso);
      expect((await cred.getToken(SCOPE, { tenantId: "FABRIKAM.com" })).token).toBe(fabrikam.token);
      expect(await cred.getToken(SCOPE, { tenantId: TENANT.toUpperCase() })).toBe(own);
      expect(await cred.getToken(SCOPE)).toBe(own);
    }
    expect(server.requests.map((r) => r.path.split("/")[1])).toEqual([
      "contoso.onmicrosoft.com",
      "fabrikam.com",
      TENANT,
    ]);
    // AZURE_IDENTITY_DISABLE_MULTITENANTAUTH=true set now pins the next calls to the configured
    // tenant, though another tenant's token is cached.
    vi.stubEnv("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "true");
    try {
      expect(await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" })).toBe(own);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(await cred.getToken(SCOPE, { tenantId: "contoso.onmicrosoft.com" })).toBe(contoso);
    expect(server.requests).toHaveLength(3);
  });

  it("refuses tenant ids that could change the URL, before any request", async () => {
    const cred = credential(undefined, { additionallyAllowedTenants: ["*"] });
    for (const tenantId of ["../evil", "a/b", "a?b", "tenant id"]) {
      await expect(cred.getToken(SCOPE, { tenantId })).rejects.toMatchObject({
        code: "invalid_configuration",
      });
    }
    expect(() => new ClientAssertionCredential("x/y", CLIENT, () => ASSERTION)).toThrow(/tenantId/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("input validation", () => {
  it("names the parameter when constructor input is wrong", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => new ClientAssertionCredential("", CLIENT, () => ASSERTION), /tenantId is required/],
      [() => new ClientAssertionCredential(TENANT, "", () => ASSERTION), /clientId is required/],
      [
        () => new ClientAssertionCredential(TENANT, CLIENT, "jwt" as never),
        /getAssertion must be a function/,
      ],
      [
        () =>
          new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
            authorityHost: "http://login.example.com",
          }),
        /options.authorityHost must use https/,
      ],
      [
        () =>
          new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
            authorityHost: "https://",
          }),
        /options.authorityHost is not a valid/,
      ],
      [
        () =>
          new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
            additionallyAllowedTenants: ["a/b"],
          }),
        /additionallyAllowedTenants/,
      ],
      [
        () =>
          new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
            retryOptions: { maxRetries: -1 },
          }),
        /maxRetries/,
      ],
    ];
    for (const [make, message] of cases) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CredentialUnavailableError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("normalises the authority host from the option or AZURE_AUTHORITY_HOST", async () => {
    const urls: string[] = [];
    const fetch = async (url: string) => {
      urls.push(url);
      return new Response(
        JSON.stringify({ token_type: "Bearer", expires_in: 3599, access_token: "t" }),
        { status: 200 },
      );
    };
    await new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      authorityHost: "login.microsoftonline.us//",
      fetch,
    }).getToken(SCOPE);
    vi.stubEnv("AZURE_AUTHORITY_HOST", "https://login.chinacloudapi.cn/");
    try {
      await new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, { fetch }).getToken(
        SCOPE,
      );
    } finally {
      vi.unstubAllEnvs();
    }
    vi.stubEnv("AZURE_AUTHORITY_HOST", "");
    try {
      await new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, { fetch }).getToken(
        SCOPE,
      );
    } finally {
      vi.unstubAllEnvs();
    }
    expect(urls).toEqual([
      `https://login.microsoftonline.us/${TENANT}/oauth2/v2.0/token`,
      `https://login.chinacloudapi.cn/${TENANT}/oauth2/v2.0/token`,
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
    ]);
  });

  it("refuses missing, empty and whitespace scopes before any request", async () => {
    const getAssertion = vi.fn(() => ASSERTION);
    const cred = credential(getAssertion);
    for (const scopes of [
      [],
      "",
      [""],
      "https://storage.azure.com/.default https://vault.azure.net/.default",
      [" x"],
    ]) {
      await expect(cred.getToken(scopes as string[])).rejects.toMatchObject({
        name: "CredentialUnavailableError",
        message: expect.stringMatching(/scope/),
      });
    }
    expect(getAssertion).not.toHaveBeenCalled();
    expect(server.requests).toHaveLength(0);
  });

  it("turns a failing or wrong assertion function into a clear error, not a request", async () => {
    const cases: [() => unknown, string, RegExp][] = [
      [
        () => {
          throw new Error("kubelet has not written the token yet");
        },
        "assertion_failed",
        /kubelet has not written/,
      ],
      [() => Promise.reject(new Error("STS unreachable")), "assertion_failed", /STS unreachable/],
      [() => "", "invalid_assertion", /an empty string/],
      [() => "   ", "invalid_assertion", /an empty string/],
      [() => 42, "invalid_assertion", /a number/],
      [() => undefined, "invalid_assertion", /a undefined|undefined/],
      [() => ({ token: ASSERTION }), "invalid_assertion", /an object/],
    ];
    for (const [getAssertion, code, message] of cases) {
      const error = await credential(getAssertion as never)
        .getToken(SCOPE)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(message);
    }
    const unavailable = new CredentialUnavailableError(
      "no token file here",
      "assertion_unavailable",
    );
    await expect(
      credential(() => {
        throw unavailable;
      }).getToken(SCOPE),
    ).rejects.toBe(unavailable);
    expect(server.requests).toHaveLength(0);
  });
});

describe("errors", () => {
  it("carries status, Entra's fields and the AADSTS codes", async () => {
    server.replies.push(
      entraError(
        400,
        "unauthorized_client",
        700016,
        "Application with identifier 'x' was not found in the directory.",
      ),
    );
    const error = (await credential()
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error.name).toBe("AuthenticationError");
    expect(error.code).toBe("token_request_rejected");
    expect(error.statusCode).toBe(400);
    expect(error.errorResponse).toEqual({
      error: "unauthorized_client",
      errorDescription: expect.stringMatching(/^AADSTS700016: /),
      errorCodes: [700016],
      correlationId: "corr-700016",
      traceId: "trace-700016",
      timestamp: "2026-11-26 04:36:45Z",
      errorUri: "https://login.microsoftonline.com/error?code=700016",
    });
    expect(error.message).toMatch(/No application with this client id exists in the tenant/);
    expect(AuthenticationError.isInstance(error)).toBe(true);
  });

  it.each([
    [700211, /issuer/],
    [700212, /audience/],
    [700213, /subject/],
    [7002138, /letter case/],
    [70021, /issuer/],
  ])("names the assertion's iss, sub and aud for FIC mismatch AADSTS%i", async (code, topic) => {
    server.replies.push(entraError(401, "invalid_client", code));
    const error = (await credential()
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error.message).toMatch(topic);
    expect(error.message).toContain('iss "https://kubernetes.default.svc"');
    expect(error.message).toContain('sub "system:serviceaccount:prod:billing"');
    expect(error.message).toContain('aud "api://AzureADTokenExchange"');
    expect(error.message).not.toContain(ASSERTION);
    expect(error.message).not.toContain(ASSERTION.split(".")[1]);
  });

  it("appends what the assertion source says about a refusal, and survives a source that throws", async () => {
    const getAssertion = Object.assign(() => ASSERTION, {
      describeRefusal: (codes: readonly number[]) =>
        codes.includes(700027)
          ? `The certificate sent has SHA-1 thumbprint AB12; ${ASSERTION}`
          : undefined,
    });
    server.replies.push(entraError(401, "invalid_client", 700027));
    const error = (await credential(getAssertion)
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error.message).toContain("The certificate sent has SHA-1 thumbprint AB12;");
    // Even the source's own words are scrubbed of the assertion.
    expect(error.message).not.toContain(ASSERTION);

    server.replies.push(entraError(401, "invalid_client", 700213));
    const other = (await credential(getAssertion)
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(other.message).not.toContain("thumbprint AB12");

    const throwing = Object.assign(() => ASSERTION, {
      describeRefusal: () => {
        throw new Error("boom");
      },
    });
    server.replies.push(entraError(401, "invalid_client", 700027));
    const third = (await credential(throwing)
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(third.errorResponse?.errorCodes).toEqual([700027]);
    expect(third.message).not.toContain("boom");
  });

  it.each([
    [50027, /not a well-formed JWT/],
    [5002727, /typ/],
    [700024, /valid time range/],
    [700027, /certificate/],
    [900023, /tenant/],
    [1002012, /\/\.default/],
  ])("gives a hint for AADSTS%i", async (code, hint) => {
    server.replies.push(entraError(400, "invalid_request", code));
    server.replies.push(entraError(400, "invalid_request", code));
    const error = (await credential()
      .getToken(SCOPE)
      .catch((e: unknown) => e)) as AuthenticationError;
    expect(error.errorResponse?.errorCodes).toEqual([code]);
    expect(error.message).toMatch(hint);
  });

  it("never puts the assertion or the token in a log line, an error, or a printed object", async () => {
    const lines: string[] = [];
    const original = AzureLogger.log;
    AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
    setLogLevel("verbose");
    try {
      const cred = credential();
      const token = await cred.getToken(SCOPE);
      server.replies.push(entraError(401, "invalid_client", 700213));
      const error = await cred
        .getToken("https://vault.azure.net/.default")
        .catch((e: unknown) => e);
      const printed = [
        ...lines,
        JSON.stringify(token),
        inspect(token),
        JSON.stringify(error),
        inspect(error),
        String(error),
        inspect(cred, { showHidden: true, depth: 10 }),
        JSON.stringify(cred),
      ].join("\n");
      expect(
        lines.some(
          (line) =>
            line.includes(`tenant=${TENANT}`) &&
            line.includes(SCOPE) &&
            line.includes("status=200"),
        ),
      ).toBe(true);
      expect(lines.some((line) => line.includes("status=401"))).toBe(true);
      expect(printed).not.toContain(ASSERTION);
      expect(printed).not.toContain(ASSERTION.split(".")[1]);
      expect(printed).not.toContain(token.token);
      expect(inspect(token)).toContain("[redacted]");
      expect(token.token).toBe(server.issued[0]);
    } finally {
      AzureLogger.log = original;
      setLogLevel(undefined as never);
    }
  });
});

describe("scope keys", () => {
  it("never serves a multi-scope token for a single string that spells the joined scopes", async () => {
    const cred = credential();
    await cred.getToken(["https://a.example/.default", "https://b.example/.default"]);
    await cred.getToken(["https://b.example/.default", "https://a.example/.default"]);
    expect(server.requests).toHaveLength(1);
    await expect(
      cred.getToken("https://a.example/.default https://b.example/.default"),
    ).rejects.toMatchObject({
      code: "invalid_configuration",
    });
    expect(server.requests).toHaveLength(1);
  });
});
