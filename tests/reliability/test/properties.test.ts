import { gzipSync } from "node:zlib";
import {
  type AccessToken,
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  CredentialUnavailableError,
  FedcredError,
} from "@fedcred/core";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CLIENT_ID,
  type Federation,
  startFederation,
  tenantIdOf,
} from "./support/load-federation.js";
import {
  type Answer,
  proxyEnvironment,
  type RawServer,
  type RecordingProxy,
  type RecordingServer,
  startRawServer,
  startRecordingProxy,
  startRecordingServer,
  tokenAnswer,
} from "./support/load-servers.js";
import { recordSecret, recordSeen } from "./support/secrets-capture.js";

// End to end through the credential: bad input and hostile answers meet a real server on
// loopback. Every run must end, within RUN_TIMEOUT_MS, in a token or a typed error whose
// message says what was wrong, and touch nothing but the server it was pointed at.
const RUN_TIMEOUT_MS = 10_000;
const RUNS = Number(process.env.FEDCRED_PROPERTY_RUNS ?? 60);
const SCOPE = "https://storage.azure.com/.default";
const TENANT = tenantIdOf(0);

let federation: Federation;
let server: RecordingServer;
let proxy: RecordingProxy;
let raw: RawServer;
let restoreProxyEnvironment: () => void;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(async () => {
  [federation, server, proxy, raw] = await Promise.all([
    startFederation(),
    startRecordingServer(),
    startRecordingProxy(),
    startRawServer(),
  ]);
  // Anything a credential sends to a host that is not loopback lands in the recording proxy.
  restoreProxyEnvironment = proxyEnvironment(proxy.url);
  process.on("unhandledRejection", onUnhandled);
});

afterEach(() => {
  expect(unhandled).toEqual([]);
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  restoreProxyEnvironment?.();
  await Promise.all([federation?.close(), server?.close(), proxy?.close(), raw?.close()]);
});

/** Property options: modest runs, and a run that does not end in time fails. */
function runs(numRuns = RUNS): fc.Parameters<unknown> {
  return { numRuns, timeout: RUN_TIMEOUT_MS };
}

/** Forgets what earlier runs sent and sets what the loopback server answers. */
function resetServers(answer: (request: unknown) => Answer = () => tokenAnswer()): void {
  server.requests.length = 0;
  server.answer = answer;
  proxy.requests.length = 0;
  raw.connections = 0;
}

/** Strings a tenant id, client id or the like could be: valid ones and every kind of junk. */
const junk = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.uuid(),
  fc.domain(),
  fc.stringMatching(/^[A-Za-z0-9.\-/%?#@:\\; ]{0,40}$/),
  fc.constantFrom(
    "",
    ".",
    "..",
    "../evil",
    "a/b",
    "a%2fb",
    "%2e%2e",
    "t?x=1",
    "t#frag",
    "a..b",
    "a.",
    ".a",
    "t\n",
    " t",
    "t\u0000",
    "evil.example@host",
    "a\\b",
    "common",
    "organizations",
    "tenant/../../other",
    "ünïcödé",
    "contoso.onmicrosoft.com",
  ),
);

/** The request target fedcred must send for `tenant`: the tenant unchanged, in one segment. */
function tokenPath(tenant: string): string {
  return `/${tenant}/oauth2/v2.0/token`;
}

function expectTyped(error: unknown): asserts error is FedcredError {
  recordSeen(error);
  expect(FedcredError.isInstance(error), `not a FedcredError: ${String(error)}`).toBe(true);
  expect((error as Error).message.length).toBeGreaterThan(10);
}

/** Only the loopback server was contacted, with exactly one request to the token path of `tenant`. */
function expectOneTokenRequest(tenant: string): void {
  expect(proxy.requests).toEqual([]);
  expect(server.requests.map((request) => `${request.method} ${request.target}`)).toEqual([
    `POST ${tokenPath(tenant)}`,
  ]);
  expect(server.requests[0]?.host).toBe(new URL(server.url).host);
}

function expectNothingContacted(): void {
  expect(server.requests).toEqual([]);
  expect(proxy.requests).toEqual([]);
}

function credentialFor(
  tenant: string,
  clientId: string,
  options: ClientAssertionCredentialOptions = {},
  contexts: AssertionContext[] = [],
): ClientAssertionCredential {
  return new ClientAssertionCredential(
    tenant,
    clientId,
    (context) => {
      contexts.push(context);
      return "eyJhbGciOiJub25lIn0.eyJzdWIiOiJwcm9wZXJ0eSJ9.c2lnbmF0dXJlLW9mLWEtdGVzdA";
    },
    { authorityHost: server.url, retryOptions: { maxRetries: 0 }, ...options },
  );
}

describe("bad input, end to end", () => {
  it("a tenant id is refused with a typed error naming tenantId, or is the one path segment of the only request sent", async () => {
    await fc.assert(
      fc.asyncProperty(junk, async (tenant) => {
        resetServers();
        const contexts: AssertionContext[] = [];
        let credential: ClientAssertionCredential;
        try {
          credential = credentialFor(tenant, CLIENT_ID, {}, contexts);
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/^tenantId /);
          expectNothingContacted();
          return;
        }
        const token = await credential.getToken(SCOPE);
        expect(token.token).toBe("reliability-access-token-0123456789");
        expectOneTokenRequest(tenant);
        expect(contexts.map((context) => context.tokenEndpoint)).toEqual([
          `${server.url}${tokenPath(tenant)}`,
        ]);
        await credential.close();
      }),
      runs(),
    );
  });

  it("a per-call tenant id is refused with a typed error, or is the one path segment of the only request sent", async () => {
    const allowance = fc.constantFrom("any", "listed", "none");
    await fc.assert(
      fc.asyncProperty(junk, allowance, async (tenant, allowed) => {
        resetServers();
        const options: ClientAssertionCredentialOptions =
          allowed === "any"
            ? { additionallyAllowedTenants: ["*"] }
            : allowed === "listed"
              ? { additionallyAllowedTenants: [tenantIdOf(7), "contoso.onmicrosoft.com"] }
              : {};
        const credential = credentialFor(TENANT, CLIENT_ID, options);
        let token: AccessToken;
        try {
          token = await credential.getToken(SCOPE, { tenantId: tenant });
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/options\.tenantId|options\.additionallyAllowedTenants/);
          expectNothingContacted();
          await credential.close();
          return;
        }
        expect(token.token.length).toBeGreaterThan(0);
        // The configured tenant keeps its own spelling; any other is sent as given.
        const sent = tenant.toLowerCase() === TENANT.toLowerCase() ? TENANT : tenant;
        expect(
          allowed === "any" ||
            sent === TENANT ||
            ["7e1a0000-0000-4000-8000-000000000007", "contoso.onmicrosoft.com"].includes(
              tenant.toLowerCase(),
            ),
        ).toBe(true);
        expectOneTokenRequest(sent);
        await credential.close();
      }),
      runs(),
    );
  });

  it("a client id is refused with a typed error naming clientId, or is sent exactly as client_id", async () => {
    await fc.assert(
      fc.asyncProperty(junk, async (clientId) => {
        resetServers();
        let credential: ClientAssertionCredential;
        try {
          credential = credentialFor(TENANT, clientId);
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/^clientId /);
          expectNothingContacted();
          return;
        }
        await credential.getToken(SCOPE);
        expectOneTokenRequest(TENANT);
        expect(server.requests[0]?.form.client_id).toBe(clientId);
        await credential.close();
      }),
      runs(),
    );
  });

  it("scopes are refused with a typed error naming the scope, or sent exactly as scope", async () => {
    const scopes = fc.oneof(
      junk,
      fc.array(junk, { maxLength: 4 }),
      fc.webUrl().map((url) => `${url}/.default`),
      fc.anything(),
    );
    await fc.assert(
      fc.asyncProperty(scopes, async (value) => {
        resetServers();
        const credential = credentialFor(TENANT, CLIENT_ID);
        try {
          await credential.getToken(value as string[]);
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/scope/i);
          expectNothingContacted();
          await credential.close();
          return;
        }
        expectOneTokenRequest(TENANT);
        const list = typeof value === "string" ? [value] : (value as string[]);
        expect(server.requests[0]?.form.scope).toBe(list.join(" "));
        await credential.close();
      }),
      runs(),
    );
  });

  it("scopes Entra refuses come back as an AuthenticationError with the AADSTS code and a hint", async () => {
    const scope = fc.oneof(
      fc.webUrl(),
      fc.domain(),
      fc.string({ minLength: 1 }).filter((text) => !/\s/.test(text)),
      fc.webUrl().map((url) => `${url}/.default`),
    );
    await fc.assert(
      fc.asyncProperty(scope, async (value) => {
        const assertion = await federation.mint();
        const credential = new ClientAssertionCredential(TENANT, CLIENT_ID, () => assertion, {
          authorityHost: federation.entra.url,
          retryOptions: { maxRetries: 0 },
        });
        try {
          const token = await credential.getToken(value);
          recordSecret("an access token the emulator issued", token.token);
          expect(value.endsWith("/.default")).toBe(true);
        } catch (error) {
          expectTyped(error);
          if (AuthenticationError.isInstance(error)) {
            expect(error.code).toBe("token_request_rejected");
            expect(error.errorResponse?.errorCodes.length).toBeGreaterThan(0);
            expect(error.message).toMatch(
              /Entra ID refused the token request \(400 \w+, AADSTS\d+/,
            );
          } else {
            expect(error.message).toMatch(/scope/i);
          }
        } finally {
          await credential.close();
        }
      }),
      runs(Math.ceil(RUNS / 2)),
    );
  });

  it("an authority host is refused with a typed error naming it, or is the only host contacted", async () => {
    const authority = fc.oneof(
      junk,
      fc.webUrl(),
      fc.webUrl({
        withQueryParameters: true,
        withFragments: true,
        authoritySettings: { withUserInfo: true, withPort: true },
      }),
      fc.domain().map((domain) => `http://${domain}`),
      fc.constantFrom(
        "login.microsoftonline.com/tenant/oauth2/v2.0/token",
        "ftp://login.example",
        "http://169.254.169.254",
        "http://login.example@127.0.0.1",
        "https://user:secret-password@login.example",
        "http://localhost.example.com",
      ),
    );
    await fc.assert(
      fc.asyncProperty(authority, async (value) => {
        resetServers();
        let credential: ClientAssertionCredential;
        try {
          credential = credentialFor(TENANT, CLIENT_ID, {
            authorityHost: value,
            requestTimeoutInMs: 3000,
          });
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/^options\.authorityHost /);
          expect(error.message).not.toContain("secret-password");
          expectNothingContacted();
          return;
        }
        try {
          await credential.getToken(SCOPE);
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(AuthenticationError);
        } finally {
          await credential.close();
        }
        // An empty authorityHost means the default, the public cloud.
        const trimmed = value.trim() || "https://login.microsoftonline.com";
        const url = new URL(
          /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`,
        );
        const host = url.hostname.toLowerCase();
        if (host === "localhost" || host === "[::1]" || /^127\./.test(host)) {
          // Loopback goes direct, never through the proxy (and here to no server).
          expect(proxy.requests).toEqual([]);
        } else {
          // The one host contacted is the authority's, through the proxy (which refused); a
          // host no HTTP client can name (such as `"`) fails before reaching even the proxy.
          expect(proxy.requests.length).toBeLessThanOrEqual(1);
          if (proxy.requests.length === 1) {
            expect(proxy.requests).toEqual([`CONNECT ${url.hostname}:${url.port || 443}`]);
          }
        }
        expect(server.requests).toEqual([]);
      }),
      runs(Math.ceil(RUNS / 2)),
    );
  });

  it("claims are refused with a typed error naming options.claims, or sent (merged with the CAE capability when asked)", async () => {
    const claims = fc.oneof(
      fc.string(),
      fc.json(),
      fc.object().map((object) => JSON.stringify(object)),
      fc.constantFrom(
        '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}',
        '{"access_token":{"xms_cc":{"values":["cp2"]}}}',
        '{"__proto__":{"polluted":true}}',
        "null",
        "[]",
        '"text"',
      ),
    );
    await fc.assert(
      fc.asyncProperty(claims, fc.boolean(), async (value, enableCae) => {
        resetServers();
        const credential = credentialFor(TENANT, CLIENT_ID);
        try {
          await credential.getToken(SCOPE, { claims: value, enableCae });
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(CredentialUnavailableError);
          expect(error.message).toMatch(/options\.claims/);
          expectNothingContacted();
          await credential.close();
          return;
        }
        expectOneTokenRequest(TENANT);
        const sent = server.requests[0]?.form.claims;
        if (!enableCae) {
          expect(sent).toBe(value === "" ? undefined : value);
        } else {
          const parsed = JSON.parse(sent as string);
          expect(parsed.access_token.xms_cc.values).toContain("cp1");
          // Every claim the caller asked for is still there.
          if (value !== "") {
            for (const key of Object.keys(JSON.parse(value))) {
              expect(Object.keys(parsed)).toContain(key);
            }
          }
        }
        await credential.close();
      }),
      runs(),
    );
  });

  it("whatever the assertion callback returns or throws ends in a typed error that says so, never quoting the assertion", async () => {
    const secretLike = fc.stringMatching(/^[A-Za-z0-9_-]{24,64}$/);
    const value = fc.oneof(
      fc.anything(),
      fc.string(),
      secretLike,
      secretLike.map((part) => `${part}.${part}.${part}`),
      fc.constantFrom(undefined, null, "", "   ", "\n", 0, Number.NaN, {}, [], Object.create(null)),
    );
    const how = fc.constantFrom("return", "resolve", "throw", "reject");
    await fc.assert(
      fc.asyncProperty(value, how, async (assertion, mode) => {
        const credential = new ClientAssertionCredential(
          TENANT,
          CLIENT_ID,
          (() => {
            switch (mode) {
              case "return":
                return assertion;
              case "resolve":
                return Promise.resolve(assertion);
              case "throw":
                throw assertion;
              default:
                return Promise.reject(assertion);
            }
          }) as () => string,
          { authorityHost: federation.entra.url, retryOptions: { maxRetries: 0 } },
        );
        // A returned string is an assertion, a secret; a thrown one is an error message.
        const returned = mode === "return" || mode === "resolve";
        if (returned && typeof assertion === "string" && /^[A-Za-z0-9_.-]{24,}$/.test(assertion)) {
          recordSecret("an assertion value the callback returned", assertion);
        }
        try {
          await credential.getToken(SCOPE);
          expect.unreachable("a made-up assertion cannot get a token");
        } catch (error) {
          expectTyped(error);
          const typed = error as FedcredError;
          if (mode === "throw" || mode === "reject") {
            if (!FedcredError.isInstance(assertion)) {
              expect(typed.code).toBe("assertion_failed");
              expect(typed.message).toMatch(/^The assertion function failed/);
            }
          } else if (typeof assertion !== "string" || assertion.trim() === "") {
            expect(typed.code).toBe("invalid_assertion");
            expect(typed.message).toMatch(/^The assertion function returned .+; it must return/);
          } else {
            expect(typed.code).toBe("token_request_rejected");
            expect((typed as AuthenticationError).errorResponse?.errorCodes.length).toBeGreaterThan(
              0,
            );
            expect(typed.message).toMatch(/^Entra ID refused the token request/);
            if (assertion.trim().length >= 16)
              expect(typed.message).not.toContain(assertion.trim());
          }
        } finally {
          await credential.close();
        }
      }),
      runs(),
    );
  });

  it("any answer of the token endpoint, random JSON or random bytes, ends in a token or a typed error about the answer", async () => {
    const json = fc.oneof(
      fc.json(),
      fc
        .record(
          {
            access_token: fc.oneof(
              fc.string(),
              fc.stringMatching(/^[A-Za-z0-9._-]{20,60}$/),
              fc.anything(),
            ),
            expires_in: fc.oneof(
              fc.integer(),
              fc.nat(100_000).map(String),
              fc.string(),
              fc.anything(),
            ),
            token_type: fc.oneof(fc.constantFrom("Bearer", "bearer", "pop", ""), fc.anything()),
            refresh_in: fc.oneof(fc.integer(), fc.string()),
            error: fc.oneof(
              fc.constantFrom("invalid_client", "temporarily_unavailable"),
              fc.string(),
            ),
            error_description: fc.string(),
            error_codes: fc.oneof(fc.array(fc.integer()), fc.anything()),
          },
          { requiredKeys: [] },
        )
        .map((object) => JSON.stringify(object)),
    );
    const body = fc.oneof(
      json.map((text) => Buffer.from(text)),
      fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    );
    const status = fc.oneof(
      fc.constantFrom(
        200,
        201,
        204,
        301,
        302,
        307,
        308,
        400,
        401,
        403,
        404,
        429,
        500,
        502,
        503,
        504,
      ),
      fc.integer({ min: 200, max: 599 }),
    );
    const encoding = fc.constantFrom(
      undefined,
      "gzip",
      "gzip-valid",
      "br",
      "deflate",
      "identity",
      "bogus",
      "gzip, gzip",
    );
    const header = fc.option(
      fc.oneof(fc.string({ maxLength: 60 }), fc.nat(5).map(String), fc.webUrl()),
      {
        nil: undefined,
      },
    );
    await fc.assert(
      fc.asyncProperty(
        status,
        body,
        encoding,
        header,
        header,
        async (code, bytes, coding, retryAfter, location) => {
          resetServers();
          const headers: Record<string, string> = { "content-type": "application/json" };
          let sent: Buffer = bytes;
          if (coding === "gzip-valid") {
            headers["content-encoding"] = "gzip";
            sent = gzipSync(bytes);
          } else if (coding !== undefined) {
            headers["content-encoding"] = coding;
          }
          // Only header values Node can send: the point is the answer, not Node's checks.
          const printable = (text: string | undefined): string | undefined =>
            text !== undefined && /^[\x20-\x7e]*$/.test(text) ? text : undefined;
          if (printable(retryAfter) !== undefined) headers["retry-after"] = retryAfter as string;
          if (printable(location) !== undefined) headers.location = location as string;
          server.answer = () => ({ status: code, headers, body: code === 204 ? undefined : sent });
          const credential = credentialFor(TENANT, CLIENT_ID, {
            retryOptions: { maxRetries: 1, retryDelayInMs: 0, maxRetryDelayInMs: 5 },
            requestTimeoutInMs: 5000,
          });
          try {
            const token = await credential.getToken(SCOPE);
            expect(code).toBeGreaterThanOrEqual(200);
            expect(code).toBeLessThan(300);
            expect(JSON.parse(bytes.toString("utf8")).access_token).toBe(token.token);
            expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
          } catch (error) {
            expectTyped(error);
            expect(error).toBeInstanceOf(AuthenticationError);
            const typed = error as AuthenticationError;
            expect([
              "token_request_rejected",
              "token_request_failed",
              "invalid_token_response",
              "redirect_refused",
            ]).toContain(typed.code);
            // The message names the endpoint's answer: its status, or what was wrong with it.
            expect(typed.message).toMatch(
              /token endpoint|token request|request to|answer|redirect/i,
            );
            if (code >= 300 && code < 400) expect(typed.code).toBe("redirect_refused");
          } finally {
            await credential.close();
          }
          // At most one retry, and only the loopback server was contacted.
          expect(server.requests.length).toBeGreaterThanOrEqual(1);
          expect(server.requests.length).toBeLessThanOrEqual(2);
          expect(server.requests.every((request) => request.target === tokenPath(TENANT))).toBe(
            true,
          );
          expect(proxy.requests).toEqual([]);
        },
      ),
      runs(RUNS * 2),
    );
  });

  it("random bytes instead of an HTTP answer end in a typed error, never a hang", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 1024 }), async (bytes) => {
        resetServers();
        raw.bytes = bytes;
        const credential = new ClientAssertionCredential(TENANT, CLIENT_ID, () => "a.b.c", {
          authorityHost: raw.url,
          retryOptions: { maxRetries: 1, retryDelayInMs: 0 },
          requestTimeoutInMs: 3000,
        });
        try {
          await credential.getToken(SCOPE);
          expect.unreachable("random bytes are not a token answer");
        } catch (error) {
          expectTyped(error);
          expect(error).toBeInstanceOf(AuthenticationError);
          expect((error as Error).message).toMatch(/request to|token endpoint|answered/);
        } finally {
          await credential.close();
        }
        expect(raw.connections).toBeGreaterThanOrEqual(1);
        expect(raw.connections).toBeLessThanOrEqual(2);
        expect(proxy.requests).toEqual([]);
      }),
      runs(Math.ceil(RUNS / 2)),
    );
  });
});
