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
  type EntraEmulator,
  type GitHubActionsTokenService,
  type ProtectedResource,
  startEntra,
  startGitHubActions,
  startResource,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { fromGitHubActions } from "../src/index.js";

const TENANT = randomUUID();
const APP = randomUUID();
const EXCHANGE = "api://AzureADTokenExchange";
const STORAGE = "https://storage.azure.com/.default";

let actions: GitHubActionsTokenService;
let entra: EntraEmulator;
let resource: ProtectedResource;

function context(authorityHost = "https://login.microsoftonline.com"): AssertionContext {
  return {
    clientId: APP,
    tenantId: TENANT,
    authorityHost,
    tokenEndpoint: `${authorityHost}/${TENANT}/oauth2/v2.0/token`,
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
  actions = await startGitHubActions({
    job: { repository: "octo-org/octo-repo", environment: "prod" },
  });
  entra = await startEntra({
    clockSkewSeconds: 0,
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              { issuer: actions.issuer, subject: actions.subject, audiences: [EXCHANGE] },
            ],
          },
        ],
      },
    ],
  });
  resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://storage.azure.com",
    roles: ["Blob.Read"],
  });
});

afterAll(async () => {
  await Promise.all([resource.close(), entra.close(), actions.close()]);
});

beforeEach(() => {
  for (const [name, value] of Object.entries(actions.env())) vi.stubEnv(name, value);
  actions.faults.clear();
  entra.reset();
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe("fromGitHubActions end to end", () => {
  it("turns the job's ID token into an access token the protected resource accepts", async () => {
    expect(actions.subject).toBe("repo:octo-org/octo-repo:environment:prod");
    const before = actions.requests.length;
    const credential = new ClientAssertionCredential(TENANT, APP, fromGitHubActions(), {
      authorityHost: entra.url,
    });
    try {
      const { token } = await credential.getToken(STORAGE);
      const answer = await fetch(resource.url, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ appid: APP, roles: ["Blob.Read"] });
      // On the wire: one GET with the runtime bearer token, the api-version the runner put in
      // the URL, and the audience of the public cloud's FIC.
      expect(actions.requests.slice(before)).toEqual([
        {
          method: "GET",
          path: new URL(actions.requestUrl).pathname,
          audience: EXCHANGE,
          apiVersion: "2.0",
          authorized: true,
          accept: "application/json",
          status: 200,
        },
      ]);
      const assertion = tokenRequests()[0]?.form.client_assertion ?? "";
      expect(decodeJwtPayload(assertion)).toMatchObject({
        iss: actions.issuer,
        sub: "repo:octo-org/octo-repo:environment:prod",
        aud: EXCHANGE,
        repository: "octo-org/octo-repo",
      });
    } finally {
      credential.close();
    }
  });

  it("asks once per token request: never on a cache hit, once for concurrent callers, anew for each scope", async () => {
    const before = actions.requests.length;
    const credential = new ClientAssertionCredential(TENANT, APP, fromGitHubActions(), {
      authorityHost: entra.url,
    });
    try {
      await Promise.all(Array.from({ length: 20 }, () => credential.getToken(STORAGE)));
      for (let i = 0; i < 5; i++) await credential.getToken(STORAGE);
      expect(actions.requests.length - before).toBe(1);
      await credential.getToken("https://vault.azure.net/.default");
      await credential.getToken("https://management.azure.com/.default");
      expect(actions.requests.length - before).toBe(3);
      const assertions = tokenRequests().map((request) => request.form.client_assertion);
      expect(assertions).toHaveLength(3);
      // A fresh ID token for every token request, never one kept from before.
      expect(new Set(assertions.map((jwt) => decodeJwtPayload(jwt ?? "").jti)).size).toBe(3);
    } finally {
      credential.close();
    }
  });

  it("never sends an expired ID token in a long job: after hours, the refresh carries a fresh one", async () => {
    // Wall clock and monotonic clock (the credential's cache runs on performance.now()).
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const credential = new ClientAssertionCredential(TENANT, APP, fromGitHubActions(), {
      authorityHost: entra.url,
    });
    try {
      const before = actions.requests.length;
      await credential.getToken(STORAGE);
      const first = tokenRequests()[0]?.form.client_assertion ?? "";
      // Every two hours (the emulators share this clock) the access token and the 5-minute ID
      // token have both expired: each refresh asks GitHub once, and Entra accepts what it sends.
      let token = "";
      for (let refresh = 1; refresh <= 3; refresh++) {
        vi.advanceTimersByTime(2 * 3_600_000);
        ({ token } = await credential.getToken(STORAGE));
        expect(actions.requests.length - before).toBe(refresh + 1);
      }
      const requests = tokenRequests();
      expect(requests.map((request) => request.status)).toEqual([200, 200, 200, 200]);
      const last = requests[3]?.form.client_assertion ?? "";
      expect(new Set(requests.map((request) => request.form.client_assertion)).size).toBe(4);
      expect((decodeJwtPayload(last).exp as number) * 1000).toBeGreaterThan(Date.now());
      const answer = await fetch(resource.url, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      // Entra refuses the first ID token now: it has expired.
      const replay = await fetch(entra.tokenEndpoint(TENANT), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: APP,
          scope: STORAGE,
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: first,
        }),
      });
      expect(((await replay.json()) as { error_codes: number[] }).error_codes).toEqual([700024]);
    } finally {
      credential.close();
    }
  });
});

describe("fromGitHubActions refusals by Entra", () => {
  it("adds GitHub's subject rules and the token's subject when no FIC matches it", async () => {
    const other = randomUUID();
    // The usual mistake: a FIC for the branch, while the job's environment makes the subject.
    entra.addApp(TENANT, {
      clientId: other,
      federatedCredentials: [
        {
          issuer: actions.issuer,
          subject: "repo:octo-org/octo-repo:ref:refs/heads/main",
          audiences: [EXCHANGE],
        },
      ],
    });
    const credential = new ClientAssertionCredential(TENANT, other, fromGitHubActions(), {
      authorityHost: entra.url,
    });
    try {
      const error = await failure(credential.getToken(STORAGE));
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).errorResponse?.errorCodes).toEqual([700213]);
      expect(error.message).toContain('"repo:{owner}/{repo}:environment:{name}" when the job');
      expect(error.message).toContain(
        'This job\'s ID token has the subject "repo:octo-org/octo-repo:environment:prod"',
      );
    } finally {
      credential.close();
    }
  });
});

describe("fromGitHubActions audience", () => {
  it.each([
    ["https://login.microsoftonline.com", EXCHANGE],
    ["https://login.microsoftonline.us", "api://AzureADTokenExchangeUSGov"],
    ["https://login.usgovcloudapi.net", "api://AzureADTokenExchangeUSGov"],
    ["https://login.chinacloudapi.cn", "api://AzureADTokenExchangeChina"],
    ["https://login.partner.microsoftonline.cn", "api://AzureADTokenExchangeChina"],
  ])("asks for the FIC audience of the cloud at %s", async (authorityHost, audience) => {
    const token = await fromGitHubActions()(context(authorityHost));
    expect(actions.requests.at(-1)?.audience).toBe(audience);
    expect(decodeJwtPayload(token).aud).toBe(audience);
  });

  it("asks for options.audience whatever the cloud, URL-encoded", async () => {
    const audience = "api://custom audience/with?odd=chars&more";
    await expect(
      fromGitHubActions({ audience: "api://Other" })(context("https://login.microsoftonline.us")),
    ).resolves.toBeTypeOf("string");
    expect(actions.requests.at(-1)?.audience).toBe("api://Other");
    expect(() => fromGitHubActions({ audience })).toThrow(/options\.audience/);
    const odd = "api://custom/with?odd=chars&more#x";
    await fromGitHubActions({ audience: odd })(context());
    expect(actions.requests.at(-1)?.audience).toBe(odd);
  });
});

describe("fromGitHubActions configuration", () => {
  it("fails each call, not the factory, with missing_configuration naming what is missing and id-token: write", async () => {
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_URL", "");
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "");
    const getAssertion = fromGitHubActions();
    const both = await failure(Promise.resolve(getAssertion(context())));
    expect(both).toBeInstanceOf(CredentialUnavailableError);
    expect(both).toMatchObject({ code: "missing_configuration" });
    expect(both.message).toContain(
      "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set",
    );
    expect(both.message).toContain('"permissions: id-token: write"');
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_URL", actions.requestUrl);
    const one = await failure(Promise.resolve(getAssertion(context())));
    expect(one.message).toContain("ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set");
    // Read on every call: set now, it works.
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", actions.requestToken);
    await expect(getAssertion(context())).resolves.toMatch(/^ey/);
  });

  it("refuses a request token with a line break inside, as a typed error that never shows it, sending nothing", async () => {
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_URL", actions.requestUrl);
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "tok-secret-part\r\nX-Injected: 1");
    const before = actions.requests.length;
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "invalid_configuration" });
    expect(error.message).toContain("ACTIONS_ID_TOKEN_REQUEST_TOKEN holds a space, a line break");
    expect(JSON.stringify(error) + String(error.stack)).not.toContain("tok-secret-part");
    const option = await failure(
      Promise.resolve(
        fromGitHubActions({
          idTokenRequestUrl: actions.requestUrl,
          idTokenRequestToken: "tok-secret-part\nrest",
        })(context()),
      ),
    );
    expect(option.message).toContain("options.idTokenRequestToken holds");
    expect(actions.requests.length).toBe(before);
    // A trailing line break (a value read from a file) is trimmed, as before.
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", `${actions.requestToken}\n`);
    await expect(fromGitHubActions()(context())).resolves.toMatch(/^ey/);
  });

  it("takes the endpoint and token from options over the environment", async () => {
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:1/never");
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "never");
    const token = await fromGitHubActions({
      idTokenRequestUrl: actions.requestUrl,
      idTokenRequestToken: actions.requestToken,
    })(context());
    expect(decodeJwtPayload(token).sub).toBe(actions.subject);
  });

  it.each([
    [{ audience: "" }, "options.audience"],
    [{ audience: 42 }, "options.audience"],
    [{ idTokenRequestUrl: "not a url" }, "options.idTokenRequestUrl"],
    [{ idTokenRequestToken: " " }, "options.idTokenRequestToken must be a non-empty string"],
    [{ requestTimeoutInMs: 0 }, "options.requestTimeoutInMs"],
    [{ requestTimeoutInMs: "5000" }, 'got "5000"'],
  ])("refuses unusable options at once: %j", (options, message) => {
    expect(() => fromGitHubActions(options as never)).toThrow(CredentialUnavailableError);
    expect(() => fromGitHubActions(options as never)).toThrow(message);
  });

  it("refuses a plain-http endpoint that is not loopback, sending nothing", async () => {
    const before = actions.requests.length;
    const error = await failure(
      Promise.resolve(
        fromGitHubActions({
          idTokenRequestUrl: "http://pipelines.example/idtoken?api-version=2.0",
        })(context()),
      ),
    );
    expect(error).toMatchObject({ code: "invalid_configuration" });
    expect(actions.requests.length).toBe(before);
  });
});

describe("fromGitHubActions failures", () => {
  it("reports a refused request token as assertion_failed (401), never printing it", async () => {
    vi.stubEnv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong-request-token-0123456789");
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 401 });
    expect(error.message).toContain("refused the request token (401)");
    expect(error.message).toContain("TF400813");
    expect(printed(error)).not.toContain("wrong-request-token-0123456789");
    expect(actions.requests.at(-1)?.authorized).toBe(false);
  });

  it("redacts the request token and JWTs a server echoes", async () => {
    const echoed = `token ${actions.requestToken} and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`;
    actions.injectFault({ status: 400, body: JSON.stringify({ message: echoed }) });
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toMatchObject({ code: "assertion_failed", statusCode: 400 });
    expect(error.message).toContain("[redacted]");
    expect(printed(error)).not.toContain(actions.requestToken);
    expect(printed(error)).not.toContain("eyJzdWIiOiJ4In0");
  });

  it.each([
    [
      "a sign-in page",
      { status: 200, headers: { "content-type": "text/html" }, body: "<html>Sign in</html>" },
      /not JSON \(text\/html\)/,
    ],
    ["JSON without value", { status: 200, body: '{"count":1}' }, /no "value" holding a JWT/],
    [
      "a value that is no JWT",
      { status: 200, body: '{"value":"opaque"}' },
      /a string that is not one/,
    ],
  ])("refuses %s as assertion_failed", async (_name, answer, message) => {
    actions.injectFault(answer);
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "assertion_failed" });
    expect(error.message).toMatch(message);
  });

  it("refuses an ID token that expired before it arrived, without printing it", async () => {
    const encode = (value: object): string =>
      Buffer.from(JSON.stringify(value)).toString("base64url");
    const expired = `${encode({ alg: "RS256" })}.${encode({ exp: Math.floor(Date.now() / 1000) - 60 })}.c2lnbmF0dXJl`;
    actions.injectFault({ status: 200, body: JSON.stringify({ value: expired }) });
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error.message).toMatch(/expired at .*check this machine's clock/);
    expect(printed(error)).not.toContain(expired);
  });

  it("refuses a redirect without following it", async () => {
    const before = actions.requests.length;
    actions.injectFault({ status: 302, headers: { location: "https://elsewhere.example/steal" } });
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "redirect_refused", statusCode: 302 });
    expect(error.message).toContain("https://elsewhere.example");
    expect(error.message).toMatch(/^The GitHub Actions ID-token request to http:\/\/127\.0\.0\.1/);
    expect(error.message).toContain(
      "(check options.idTokenRequestUrl or ACTIONS_ID_TOKEN_REQUEST_URL and any proxy in between)",
    );
    expect(actions.requests.length - before).toBe(1);
  });

  it("stops reading an oversized body", async () => {
    actions.injectFault({ status: 200, body: `{"value":"${"a".repeat(200_000)}"}` });
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toMatchObject({ code: "invalid_token_response" });
    expect(error.message).toContain("exceeded 64 KiB");
  });

  it("asks again after 429 and 5xx, honouring Retry-After, then succeeds", async () => {
    const before = actions.requests.length;
    actions.injectFault({ status: 503, headers: { "retry-after": "0" } });
    actions.injectFault({ status: 429, headers: { "retry-after": "0" } });
    await expect(fromGitHubActions()(context())).resolves.toMatch(/^ey/);
    expect(actions.requests.slice(before).map((request) => request.status)).toEqual([
      503, 429, 200,
    ]);
  });

  it("reports a service still unavailable after three attempts as assertion_unavailable", async () => {
    const before = actions.requests.length;
    actions.injectFault(
      { status: 503, headers: { "retry-after": "0" }, body: "unavailable" },
      { count: 3 },
    );
    const error = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toContain("is unavailable (503, after 3 attempts)");
    expect(actions.requests.length - before).toBe(3);
  });

  it("reports dropped connections and timeouts as assertion_unavailable after three attempts", async () => {
    actions.injectFault({ drop: true }, { count: 3 });
    const dropped = await failure(Promise.resolve(fromGitHubActions()(context())));
    expect(dropped).toMatchObject({ code: "assertion_unavailable" });
    expect(dropped.message).toContain("connection");

    actions.injectFault({ delayMs: 10_000 }, { count: 3 });
    const slow = await failure(
      Promise.resolve(fromGitHubActions({ requestTimeoutInMs: 200 })(context())),
    );
    expect(slow).toMatchObject({ code: "assertion_unavailable" });
    expect(slow.message).toContain("timed out after 200 ms");
  });

  it("honours the abort signal, during a request and before one", async () => {
    actions.injectFault({ delayMs: 30_000 });
    const controller = new AbortController();
    const pending = fromGitHubActions()({ ...context(), abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await failure(Promise.resolve(pending));
    expect(error.name).toBe("AbortError");
    actions.faults.clear();

    const before = actions.requests.length;
    const aborted = await failure(
      Promise.resolve(fromGitHubActions()({ ...context(), abortSignal: AbortSignal.abort() })),
    );
    expect(aborted.name).toBe("AbortError");
    expect(actions.requests.length).toBe(before);
  });
});
