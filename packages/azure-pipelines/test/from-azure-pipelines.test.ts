import { randomUUID } from "node:crypto";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
  decodeJwtPayload,
} from "@fedcred/core";
import {
  type AzurePipelinesOidc,
  type EntraEmulator,
  type ProtectedResource,
  startAzurePipelines,
  startEntra,
  startResource,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { fromAzurePipelines } from "../src/index.js";

const TENANT = randomUUID();
const APP = randomUUID();
const DEPLOY = "6f2b1c9e-0000-4000-8000-000000000001";
const LOCKED = "6f2b1c9e-0000-4000-8000-000000000002";
const EXCHANGE = "api://AzureADTokenExchange";
const MANAGEMENT = "https://management.azure.com/.default";

let pipelines: AzurePipelinesOidc;
let entra: EntraEmulator;
let resource: ProtectedResource;

function context(): AssertionContext {
  return {
    clientId: APP,
    tenantId: TENANT,
    authorityHost: "https://login.microsoftonline.com",
    tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
  };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

/** The error's message, JSON and util.inspect form: none may hold a secret. */
function printed(error: Error): string {
  return `${error.message}\n${JSON.stringify(error)}\n${inspect(error)}`;
}

function tokenRequests() {
  return entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
}

beforeAll(async () => {
  pipelines = await startAzurePipelines({
    organization: "contoso",
    project: "web",
    serviceConnections: [
      { id: DEPLOY, name: "prod-deploy" },
      { id: LOCKED, name: "locked", authorized: false },
    ],
  });
  entra = await startEntra({
    clockSkewSeconds: 0,
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Deploy"],
            federatedCredentials: [
              {
                issuer: pipelines.issuer,
                subject: pipelines.subject("prod-deploy"),
                audiences: [EXCHANGE],
              },
            ],
          },
        ],
      },
    ],
  });
  resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://management.azure.com",
    roles: ["Deploy"],
  });
});

afterAll(async () => {
  await Promise.all([resource.close(), entra.close(), pipelines.close()]);
});

beforeEach(() => {
  vi.stubEnv("SYSTEM_OIDCREQUESTURI", pipelines.oidcRequestUri);
  vi.stubEnv("SYSTEM_ACCESSTOKEN", pipelines.systemAccessToken);
  vi.stubEnv("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "");
  pipelines.faults.clear();
  entra.reset();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe("fromAzurePipelines end to end", () => {
  it("turns the service connection's OIDC token into an access token the protected resource accepts", async () => {
    const before = pipelines.requests.length;
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromAzurePipelines({ serviceConnectionId: DEPLOY }),
      { authorityHost: entra.url },
    );
    try {
      const { token } = await credential.getToken(MANAGEMENT);
      const answer = await fetch(resource.url, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ appid: APP, roles: ["Deploy"] });
      // On the wire: one POST with the job's access token, api-version 7.1, the service
      // connection, JSON content type and sign-in redirects suppressed.
      expect(pipelines.requests.slice(before)).toEqual([
        {
          method: "POST",
          path: new URL(pipelines.oidcRequestUri).pathname,
          apiVersion: "7.1",
          serviceConnectionId: DEPLOY,
          authorized: true,
          contentType: "application/json",
          fedAuthRedirect: "Suppress",
          status: 200,
        },
      ]);
      const assertion = tokenRequests()[0]?.form.client_assertion ?? "";
      expect(decodeJwtPayload(assertion)).toMatchObject({
        iss: pipelines.issuer,
        sub: "sc://contoso/web/prod-deploy",
        aud: EXCHANGE,
      });
    } finally {
      credential.close();
    }
  });

  it("takes the service connection from AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, as AzureCLI@2 sets it", async () => {
    vi.stubEnv("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", DEPLOY);
    const token = await fromAzurePipelines()(context());
    expect(decodeJwtPayload(token).sub).toBe("sc://contoso/web/prod-deploy");
    expect(pipelines.requests.at(-1)?.serviceConnectionId).toBe(DEPLOY);
  });

  it("asks once per token request: never on a cache hit, once for concurrent callers, anew for each scope", async () => {
    const before = pipelines.requests.length;
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromAzurePipelines({ serviceConnectionId: DEPLOY }),
      { authorityHost: entra.url },
    );
    try {
      await Promise.all(Array.from({ length: 20 }, () => credential.getToken(MANAGEMENT)));
      for (let i = 0; i < 5; i++) await credential.getToken(MANAGEMENT);
      expect(pipelines.requests.length - before).toBe(1);
      await credential.getToken("https://vault.azure.net/.default");
      expect(pipelines.requests.length - before).toBe(2);
      const assertions = tokenRequests().map((request) => request.form.client_assertion ?? "");
      expect(new Set(assertions.map((jwt) => decodeJwtPayload(jwt).jti)).size).toBe(2);
    } finally {
      credential.close();
    }
  });

  it("never sends an expired OIDC token in a long job: after hours, the refresh carries a fresh one", async () => {
    // Wall clock and monotonic clock (the credential's cache runs on performance.now()).
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromAzurePipelines({ serviceConnectionId: DEPLOY }),
      { authorityHost: entra.url },
    );
    try {
      await credential.getToken(MANAGEMENT);
      vi.advanceTimersByTime(2 * 3_600_000);
      await credential.getToken(MANAGEMENT);
      const requests = tokenRequests();
      expect(requests.map((request) => request.status)).toEqual([200, 200]);
      const [first, second] = requests.map((request) => request.form.client_assertion ?? "");
      expect(second).not.toBe(first);
      expect((decodeJwtPayload(second ?? "").exp as number) * 1000).toBeGreaterThan(Date.now());
      expect((decodeJwtPayload(first ?? "").exp as number) * 1000).toBeLessThan(Date.now());
    } finally {
      credential.close();
    }
  });
});

describe("fromAzurePipelines refusals by Entra", () => {
  it("adds Azure DevOps's subject rules and the token's subject when no FIC matches it", async () => {
    const other = randomUUID();
    // A FIC registered before the service connection was renamed.
    entra.addApp(TENANT, {
      clientId: other,
      federatedCredentials: [
        { issuer: pipelines.issuer, subject: "sc://contoso/web/deploy-old", audiences: [EXCHANGE] },
      ],
    });
    const credential = new ClientAssertionCredential(
      TENANT,
      other,
      fromAzurePipelines({ serviceConnectionId: DEPLOY }),
      { authorityHost: entra.url },
    );
    try {
      const error = await failure(credential.getToken(MANAGEMENT));
      expect((error as AuthenticationError).errorResponse?.errorCodes).toEqual([700213]);
      expect(error.message).toContain(
        'The token\'s subject is "sc://contoso/web/prod-deploy". With the Azure DevOps issuer',
      );
      expect(error.message).toContain("Workload Identity federation details");
    } finally {
      credential.close();
    }
  });
});

describe("fromAzurePipelines configuration", () => {
  it("fails each call, not the factory, when SYSTEM_OIDCREQUESTURI is missing", async () => {
    vi.stubEnv("SYSTEM_OIDCREQUESTURI", "");
    const getAssertion = fromAzurePipelines({ serviceConnectionId: DEPLOY });
    const error = await failure(Promise.resolve(getAssertion(context())));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "missing_configuration" });
    expect(error.message).toContain("SYSTEM_OIDCREQUESTURI is not set");
    vi.stubEnv("SYSTEM_OIDCREQUESTURI", pipelines.oidcRequestUri);
    await expect(getAssertion(context())).resolves.toMatch(/^ey/);
  });

  it("says exactly what to map in the pipeline YAML when SYSTEM_ACCESSTOKEN is missing", async () => {
    vi.stubEnv("SYSTEM_ACCESSTOKEN", "");
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toMatchObject({ code: "missing_configuration" });
    expect(error.message).toContain(
      "env:\n    SYSTEM_ACCESSTOKEN: $(System.AccessToken)\nor pass options.systemAccessToken",
    );
  });

  it("refuses an access token with a line break inside, as a typed error that never shows it, sending nothing", async () => {
    vi.stubEnv("SYSTEM_ACCESSTOKEN", "at-secret-part\r\nX-Injected: 1");
    const before = pipelines.requests.length;
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "invalid_configuration" });
    expect(error.message).toContain("SYSTEM_ACCESSTOKEN holds a space, a line break");
    expect(JSON.stringify(error) + String(error.stack)).not.toContain("at-secret-part");
    expect(pipelines.requests.length).toBe(before);
  });

  it("names both ways to give the service connection when none is given, and refuses one that is not a GUID", async () => {
    const none = await failure(Promise.resolve(fromAzurePipelines()(context())));
    expect(none).toMatchObject({ code: "missing_configuration" });
    expect(none.message).toContain("options.serviceConnectionId");
    expect(none.message).toContain("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID");
    vi.stubEnv("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "prod-deploy");
    const named = await failure(Promise.resolve(fromAzurePipelines()(context())));
    expect(named).toMatchObject({ code: "invalid_configuration" });
    expect(named.message).toContain('got "prod-deploy"');
  });

  it("takes the URI and access token from options over the environment", async () => {
    vi.stubEnv("SYSTEM_OIDCREQUESTURI", "http://127.0.0.1:1/never");
    vi.stubEnv("SYSTEM_ACCESSTOKEN", "never");
    const token = await fromAzurePipelines({
      serviceConnectionId: DEPLOY,
      oidcRequestUri: pipelines.oidcRequestUri,
      systemAccessToken: pipelines.systemAccessToken,
    })(context());
    expect(decodeJwtPayload(token).sub).toBe("sc://contoso/web/prod-deploy");
  });

  it.each([
    [{ serviceConnectionId: "prod-deploy" }, "options.serviceConnectionId must be"],
    [{ serviceConnectionId: 42 }, "got number"],
    [{ systemAccessToken: "" }, "options.systemAccessToken must be"],
    [{ oidcRequestUri: "/relative" }, "options.oidcRequestUri"],
    [{ requestTimeoutInMs: -5 }, "options.requestTimeoutInMs"],
  ])("refuses unusable options at once: %j", (options, message) => {
    expect(() => fromAzurePipelines(options as never)).toThrow(CredentialUnavailableError);
    expect(() => fromAzurePipelines(options as never)).toThrow(message);
  });
});

describe("fromAzurePipelines failures", () => {
  it("reports a refused access token as assertion_failed (401) with the YAML to map it and the support ids, never printing it", async () => {
    vi.stubEnv("SYSTEM_ACCESSTOKEN", "wrong-access-token-0123456789");
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 401 });
    expect(error.message).toContain("did not accept SYSTEM_ACCESSTOKEN (401)");
    expect(error.message).toContain("SYSTEM_ACCESSTOKEN: $(System.AccessToken)");
    expect(error.message).toMatch(/x-vss-e2eid: [0-9a-f-]{36}, x-msedge-ref: Ref A: /);
    expect(error.message).toContain("TF400813");
    expect(printed(error)).not.toContain("wrong-access-token-0123456789");
    // Sign-in redirects were suppressed: a 401, not a redirect to follow.
    expect(pipelines.requests.at(-1)).toMatchObject({ status: 401, fedAuthRedirect: "Suppress" });
  });

  it("reports an unknown (404) and an unauthorized (403) service connection with what to check", async () => {
    const unknown = randomUUID();
    const missing = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: unknown })(context())),
    );
    expect(missing).toMatchObject({ code: "assertion_failed", statusCode: 404 });
    expect(missing.message).toContain(`no service connection ${unknown}`);
    expect(missing.message).toContain("could not be found");
    const locked = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: LOCKED })(context())),
    );
    expect(locked).toMatchObject({ code: "assertion_failed", statusCode: 403 });
    expect(locked.message).toContain("Pipeline permissions");
  });

  it("redacts the access token and JWTs a server echoes", async () => {
    const echoed = `token ${pipelines.systemAccessToken} and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`;
    pipelines.injectFault({ status: 400, body: JSON.stringify({ message: echoed }) });
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 400 });
    expect(error.message).toContain("[redacted]");
    expect(printed(error)).not.toContain(pipelines.systemAccessToken);
    expect(printed(error)).not.toContain("eyJzdWIiOiJ4In0");
  });

  it.each([
    [
      "a 203 sign-in page",
      { status: 203, headers: { "content-type": "text/html" }, body: "<html>Sign in</html>" },
      /203 with a sign-in page/,
    ],
    [
      "a 200 sign-in page",
      { status: 200, headers: { "content-type": "text/html" }, body: "<html>Sign in</html>" },
      /not JSON \(text\/html\): a sign-in page/,
    ],
    [
      "JSON without oidcToken",
      { status: 200, headers: { "x-vss-e2eid": "e2e-1" }, body: '{"token":"x"}' },
      /without an OIDC token \(x-vss-e2eid: e2e-1\): the JSON has no "oidcToken" holding a JWT/,
    ],
  ])("refuses %s as assertion_failed", async (_name, answer, message) => {
    pipelines.injectFault(answer);
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "assertion_failed" });
    expect(error.message).toMatch(message);
  });

  it("refuses a redirect without following it, and stops reading an oversized body", async () => {
    const before = pipelines.requests.length;
    pipelines.injectFault({
      status: 302,
      headers: { location: "https://spsprodweu5.vssps.visualstudio.com/_signin" },
    });
    const redirected = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(redirected).toMatchObject({ code: "redirect_refused", statusCode: 302 });
    expect(redirected.message).toContain("https://spsprodweu5.vssps.visualstudio.com");
    expect(pipelines.requests.length - before).toBe(1);

    pipelines.injectFault({ status: 200, body: `{"oidcToken":"${"a".repeat(100_000)}"}` });
    const oversized = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(oversized).toMatchObject({ code: "invalid_token_response" });
  });

  it("asks again after 5xx, then reports a lasting outage as assertion_unavailable with the support ids", async () => {
    const before = pipelines.requests.length;
    pipelines.injectFault({ status: 503, headers: { "retry-after": "0" } });
    await expect(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())).resolves.toMatch(
      /^ey/,
    );
    expect(pipelines.requests.slice(before).map((request) => request.status)).toEqual([503, 200]);

    pipelines.injectFault(
      { status: 500, headers: { "retry-after": "0", "x-vss-e2eid": "e2e-outage" } },
      { count: 3 },
    );
    const error = await failure(
      Promise.resolve(fromAzurePipelines({ serviceConnectionId: DEPLOY })(context())),
    );
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toContain(
      "is unavailable (500, after 3 attempts) (x-vss-e2eid: e2e-outage)",
    );
  });

  it("honours the abort signal", async () => {
    pipelines.injectFault({ delayMs: 30_000 });
    const controller = new AbortController();
    const pending = fromAzurePipelines({ serviceConnectionId: DEPLOY })({
      ...context(),
      abortSignal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    const error = await failure(Promise.resolve(pending));
    expect(error.name).toBe("AbortError");
  });
});
