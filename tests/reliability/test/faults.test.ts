// Faults of the token endpoint, played by the Entra emulator's fault controls, as a caller of
// ClientAssertionCredential sees them: the error (class, code, a message that says what to do),
// how many requests reached Entra, and that the credential recovers once the fault clears.
// Time is faked for Date and performance only: cool-downs of 5 to 60 s pass in an instant, while
// the sockets, retries and deadlines run on real timers.
import { AuthenticationError } from "@fedcred/core";
import { createTlsAuthority, type Fault, startEntra } from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  entraTenants,
  type FaultFederation,
  rejectionOf,
  SCOPE,
  SHORT_DEADLINE,
  startFaultFederation,
  startWitness,
  tokenStatuses,
  type Witness,
} from "./support/faults-federation.js";

let federation: FaultFederation;
let witness: Witness;

beforeAll(async () => {
  federation = await startFaultFederation();
  witness = await startWitness();
});

afterAll(async () => {
  await federation?.close();
  await witness?.close();
});

beforeEach(() => {
  federation.entra.reset();
  vi.useFakeTimers({ toFake: ["Date", "performance"] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Three attempts (QUICK retries) all fail; the key then cools down for `coolDownMs`. */
async function expectTransientFailure(
  fault: Fault,
  expected: { statusCode?: number; message: RegExp; coolDownMs: number; statuses: unknown[] },
): Promise<void> {
  const { entra } = federation;
  const credential = federation.credential(fault.kind === "delay" ? SHORT_DEADLINE : {});
  entra.injectFault(fault, { count: 3 });
  const error = await rejectionOf(credential.getToken(SCOPE));
  expect(AuthenticationError.isInstance(error)).toBe(true);
  expect(error).toMatchObject({
    name: "AuthenticationError",
    code: "token_request_failed",
    statusCode: expected.statusCode,
    retryAfterInMs: expected.coolDownMs,
  });
  expect(error.message).toMatch(expected.message);
  expect(error.message).toMatch(/3 attempts/);
  expect(tokenStatuses(entra)).toEqual(expected.statuses);

  // While the key cools down, callers are told so at once and nothing is sent.
  const paused = await rejectionOf(credential.getToken(SCOPE));
  expect(paused).toMatchObject({ name: "AuthenticationError", code: "throttled" });
  expect(paused.message).toMatch(/paused for \d+ seconds? after the last one failed/);
  expect(entra.tokenRequestCount).toBe(3);
  vi.advanceTimersByTime(expected.coolDownMs - 1000);
  await expect(credential.getToken(SCOPE)).rejects.toMatchObject({ code: "throttled" });
  expect(entra.tokenRequestCount).toBe(3);

  // The fault has cleared: the next call after the cool-down gets a token with one request.
  vi.advanceTimersByTime(1000);
  const token = await credential.getToken(SCOPE);
  expect(token.token.split(".")).toHaveLength(3);
  expect(tokenStatuses(entra)).toEqual([...expected.statuses, 200]);
}

describe("throttling and outages: retried, then the key cools down", () => {
  it("429 with Retry-After in seconds: three attempts, then a 60 s pause, then a token", async () => {
    await expectTransientFailure(
      { kind: "status", status: 429, retryAfter: 60 },
      {
        statusCode: 429,
        message:
          /^Entra ID throttled the token request \(429 temporarily_unavailable, AADSTS90033\) after 3 attempts\. Entra said: AADSTS90033: A transient error has occurred\. Please try again\..* Wait before asking again/,
        coolDownMs: 60_000,
        statuses: [429, 429, 429],
      },
    );
  });

  it("429 with Retry-After as an HTTP date: the pause lasts until that date", async () => {
    // Whole seconds: an HTTP date has no finer grain.
    vi.setSystemTime(Math.ceil(Date.now() / 1000) * 1000);
    await expectTransientFailure(
      { kind: "status", status: 429, retryAfter: new Date(Date.now() + 45_000) },
      {
        statusCode: 429,
        message: /\(429 temporarily_unavailable, AADSTS90033\)/,
        coolDownMs: 45_000,
        statuses: [429, 429, 429],
      },
    );
  });

  for (const status of [500, 502, 503, 504]) {
    it(`${status} without Retry-After: three attempts, the default 5 s pause, then a token`, async () => {
      await expectTransientFailure(
        { kind: "status", status },
        {
          statusCode: status,
          message: new RegExp(
            `^Entra ID could not answer the token request \\(${status} temporarily_unavailable, AADSTS90033\\) after 3 attempts\\. Entra said: .*Please try again.* Entra ID is unavailable for now`,
          ),
          coolDownMs: 5_000,
          statuses: [status, status, status],
        },
      );
    });

    it(`${status} with Retry-After: 20: the pause is the server's`, async () => {
      await expectTransientFailure(
        { kind: "status", status, retryAfter: 20 },
        {
          statusCode: status,
          message: new RegExp(`\\(${status} temporarily_unavailable, AADSTS90033\\)`),
          coolDownMs: 20_000,
          statuses: [status, status, status],
        },
      );
    });
  }

  it("an HTML error page from a proxy (502): named as not JSON, retried like a 502", async () => {
    await expectTransientFailure(
      { kind: "html", status: 502 },
      {
        statusCode: 502,
        message: /502 Bad Gateway with an? HTML/i,
        coolDownMs: 5_000,
        statuses: [502, 502, 502],
      },
    );
  });
});

describe("broken connections and answers", () => {
  it("a dropped connection: retried, named as a reset connection, then a 5 s pause", async () => {
    await expectTransientFailure(
      { kind: "drop" },
      {
        message:
          /The request to http:\/\/127\.0\.0\.1:\d+\/[^ ]+\/oauth2\/v2\.0\/token failed: .*(reset|closed)/,
        coolDownMs: 5_000,
        statuses: [0, 0, 0],
      },
    );
  });

  it("an answer slower than requestTimeoutInMs: each attempt times out, and the emulator sees the connection closed", async () => {
    const { entra } = federation;
    await expectTransientFailure(
      { kind: "delay", delayMs: 10_000 },
      {
        message:
          /The request to http:\/\/127\.0\.0\.1:\d+\/[^ ]+\/oauth2\/v2\.0\/token timed out after 500 ms/,
        coolDownMs: 5_000,
        // 499: the emulator saw the client close each connection before it answered (the last
        // one may still be on its way when the error arrives).
        statuses: [499, 499, expect.any(Number)],
      },
    );
    // Nothing is left waiting on the emulator's side: each held request ended with its connection.
    await vi.waitFor(() => expect(tokenStatuses(entra).slice(0, 3)).toEqual([499, 499, 499]), {
      timeout: 10_000,
    });
  });

  it("a truncated body (Content-Length longer than what came, then close): retried as a broken connection", async () => {
    await expectTransientFailure(
      { kind: "truncated-body" },
      {
        message: /failed: .*(closed|reset|aborted|terminated)/i,
        coolDownMs: 5_000,
        statuses: [200, 200, 200],
      },
    );
  });
});

/** Not retried, no cool-down: one request, and the next call (the fault gone) gets a token. */
async function expectRefusedAnswer(
  fault: Fault,
  expected: { code: string; message: RegExp; statusCode?: number },
): Promise<AuthenticationError> {
  const { entra } = federation;
  const credential = federation.credential();
  entra.injectFault(fault);
  const error = await rejectionOf(credential.getToken(SCOPE));
  expect(AuthenticationError.isInstance(error)).toBe(true);
  expect(error).toMatchObject({ name: "AuthenticationError", code: expected.code });
  if (expected.statusCode !== undefined) {
    expect((error as AuthenticationError).statusCode).toBe(expected.statusCode);
  }
  expect(error.message).toMatch(expected.message);
  expect(entra.tokenRequestCount).toBe(1);
  const token = await credential.getToken(SCOPE);
  expect(token.token.split(".")).toHaveLength(3);
  expect(entra.tokenRequestCount).toBe(2);
  return error as AuthenticationError;
}

describe("answers that are not a token", () => {
  it("a 200 without access_token", async () => {
    await expectRefusedAnswer(
      { kind: "token-response", omit: ["access_token"] },
      {
        code: "invalid_token_response",
        statusCode: 200,
        message: /answered 200 without an access_token/,
      },
    );
  });

  it("a 200 without expires_in", async () => {
    await expectRefusedAnswer(
      { kind: "token-response", omit: ["expires_in"] },
      {
        code: "invalid_token_response",
        message: /without a valid expires_in: it must be a number/,
      },
    );
  });

  for (const expiresIn of ["soon", -5, 0, 1.5e12, null, { seconds: 60 }]) {
    it(`a 200 with expires_in ${JSON.stringify(expiresIn)}`, async () => {
      await expectRefusedAnswer(
        { kind: "token-response", fields: { expires_in: expiresIn } },
        { code: "invalid_token_response", message: /expires_in/ },
      );
    });
  }

  it("half a JSON body, and a body that is not JSON", async () => {
    await expectRefusedAnswer(
      { kind: "truncated-json" },
      { code: "invalid_token_response", message: /JSON/ },
    );
    federation.entra.reset();
    await expectRefusedAnswer(
      { kind: "malformed-json" },
      { code: "invalid_token_response", message: /JSON/ },
    );
  });
});

describe("hostile answers", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`a ${status} redirect: refused, not retried, nothing reaches the Location`, async () => {
      const before = witness.connections;
      const error = await expectRefusedAnswer(
        { kind: "redirect", status, location: `${witness.url}/stolen/token?tenant=x` },
        {
          code: "redirect_refused",
          statusCode: status,
          message: new RegExp(
            `answered ${status} with a redirect to ${witness.url.replace(/[.:/]/g, "\\$&")}; fedcred never follows redirects, so nothing was sent there: point the URL at the endpoint itself`,
          ),
        },
      );
      // Only the origin is named: never the Location's path or query.
      expect(error.message).not.toMatch(/stolen/);
      expect(witness.requests).toEqual([]);
      expect(witness.connections).toBe(before);
    });
  }

  it("an oversized body: cut off at 1 MiB, not retried", async () => {
    await expectRefusedAnswer(
      { kind: "oversized", bytes: 8 * 1024 * 1024 },
      {
        code: "invalid_token_response",
        message: /exceeded 1 MiB decoded; fedcred stopped reading it and dropped the connection/,
      },
    );
  });

  for (const encoding of ["gzip", "deflate", "br"] as const) {
    it(`a ${encoding} bomb (16 MiB from a few KiB): cut off at 1 MiB decoded, not retried`, async () => {
      await expectRefusedAnswer(
        { kind: "compressed-bomb", encoding },
        { code: "invalid_token_response", message: /exceeded 1 MiB decoded/ },
      );
    });
  }
});

describe("an untrusted certificate", () => {
  it("a certificate from another CA: tls_error saying how to trust it, nothing sent; the right one works", async () => {
    const [trusted, other] = await Promise.all([
      createTlsAuthority("fedcred reliability trusted CA"),
      createTlsAuthority("fedcred reliability unknown CA"),
    ]);
    const tenants = entraTenants(federation.issuer);
    const impostor = await startEntra({
      tenants,
      tls: { cert: other.serverCertificate, key: other.serverKey },
    });
    const credential = federation.credential({
      authorityHost: impostor.authorityHost,
      tlsOptions: { ca: trusted.caCertificate },
    });
    const error = await rejectionOf(credential.getToken(SCOPE));
    await impostor.close();
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ name: "AuthenticationError", code: "tls_error" });
    expect(error.message).toMatch(
      /^The TLS certificate of https:\/\/localhost:\d+ is not trusted \([A-Z_]+\): if the server uses a private or corporate CA, trust it with NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem or tlsOptions\.ca\.$/,
    );
    // Not retried: one attempt, and no request got past the handshake.
    expect(error.message).not.toMatch(/attempts/);
    expect(impostor.tokenRequestCount).toBe(0);

    // The fault clears: the same address now serves a certificate of the trusted CA.
    const genuine = await startEntra({
      tenants,
      port: impostor.port,
      tls: { cert: trusted.serverCertificate, key: trusted.serverKey },
    });
    try {
      const token = await credential.getToken(SCOPE);
      expect(token.token.split(".")).toHaveLength(3);
      expect(genuine.tokenRequestCount).toBe(1);
    } finally {
      await genuine.close();
    }
  });
});
