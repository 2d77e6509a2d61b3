import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { gzipSync } from "node:zlib";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  CredentialUnavailableError,
} from "../src/index.js";
import {
  CLIENT,
  entraError,
  fakeJwt,
  pollUntil,
  type Reply,
  rejection,
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
  // Long enough that every segment is clearly a secret.
  jti: "d2c5e1a0-8f4b-4c7e-9a3d-6b1f0e2c4a58-9f8e7d6c5b4a",
});
const [, PAYLOAD, SIGNATURE] = ASSERTION.split(".") as [string, string, string];
/** A piece of the assertion long enough to be a secret (the fake signature is short). */
const SIGNATURE_LONG = PAYLOAD.slice(10, 50);

let server: TokenServer;

beforeEach(async () => {
  server = await startTokenServer();
});

afterEach(async () => {
  vi.useRealTimers();
  await server.close();
});

function credential(options: ClientAssertionCredentialOptions = {}): ClientAssertionCredential {
  return new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
    authorityHost: server.authorityHost,
    retryOptions: { retryDelayInMs: 10, maxRetryDelayInMs: 50 },
    ...options,
  });
}

/** A second loopback server that counts what reaches it: the target of redirects. */
async function startCounter(): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const state = { url: "", hits: 0, close: async () => {} };
  const target = createServer((_request, response) => {
    state.hits++;
    response.end(JSON.stringify(tokenSuccess("stolen").valueOf()));
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  state.url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      target.closeAllConnections();
      target.close(() => resolve());
    });
  return state;
}

describe("redirects are never followed", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`${status}: refused, not retried, nothing sent to the Location`, async () => {
      const elsewhere = await startCounter();
      try {
        server.replies.push({
          status,
          body: "",
          headers: { location: `${elsewhere.url}/steal/path?secret=query` },
        });
        const error = await rejection(credential().getToken(SCOPE));
        expect(error.code).toBe("redirect_refused");
        expect(error.statusCode).toBe(status);
        expect(error.message).toContain(String(status));
        expect(error.message).toContain(elsewhere.url);
        expect(error.message).not.toContain("/steal/path");
        expect(error.message).not.toContain("secret=query");
        expect(server.requests).toHaveLength(1);
        expect(elsewhere.hits).toBe(0);
      } finally {
        await elsewhere.close();
      }
    });
  }
});

describe("response bodies", () => {
  it("cuts off a compressed bomb at 1 MiB decoded: invalid_token_response, one request", async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, " "));
    server.replies.push({
      handle: (_request, response) => {
        response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        response.end(bomb);
      },
    });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.code).toBe("invalid_token_response");
    expect(error.message).toMatch(/1 MiB/);
    expect(server.requests).toHaveLength(1);
  });

  it("does not retry an oversized plain body that claims a small Content-Length", async () => {
    server.replies.push({
      handle: (_request, response) => {
        response.writeHead(500, { "content-type": "application/json" });
        const chunk = Buffer.alloc(256 * 1024, "x");
        for (let i = 0; i < 8; i++) response.write(chunk);
        response.end();
      },
    });
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.code).toBe("invalid_token_response");
    expect(server.requests).toHaveLength(1);
  });
});

describe("what a 200 may hold", () => {
  const refused: Array<[string, Record<string, unknown>]> = [
    ["expires_in 0", { expires_in: 0 }],
    ["expires_in -5", { expires_in: -5 }],
    ['expires_in "0x10"', { expires_in: "0x10" }],
    ['expires_in "1e3"', { expires_in: "1e3" }],
    ['expires_in " 60"', { expires_in: " 60" }],
    ["expires_in true", { expires_in: true }],
    ["expires_in missing", { expires_in: undefined }],
    ["expires_in 1e12", { expires_in: 1e12 }],
    ["expires_in 1e300", { expires_in: 1e300 }],
    ["expires_in 8 days", { expires_in: 8 * 86400 }],
    ["expires_in 0.001", { expires_in: 0.001 }],
    ["expires_in 1e-300", { expires_in: 1e-300 }],
    ["access_token of spaces", { access_token: "   " }],
    ["access_token with CR/LF", { access_token: "abc\r\nX-Injected: 1" }],
    ["access_token with a tab", { access_token: "abc\tdef" }],
    ["access_token empty", { access_token: "" }],
    ["access_token a number", { access_token: 42 }],
    ["token_type a number", { token_type: 1 }],
    ["token_type pop", { token_type: "pop" }],
  ];
  for (const [name, fields] of refused) {
    it(`refuses ${name} as invalid_token_response`, async () => {
      const body = { ...(tokenSuccess("ok") as { body: Record<string, unknown> }).body, ...fields };
      server.replies.push({ status: 200, body });
      const error = await rejection(credential().getToken(SCOPE));
      expect(error.code).toBe("invalid_token_response");
      expect(server.requests).toHaveLength(1);
    });
  }

  it("accepts expires_in as digits, token_type in any case or absent", async () => {
    server.replies.push(tokenSuccess("a", "3599", { token_type: "BEARER" }));
    const before = Date.now();
    const token = await credential().getToken(SCOPE);
    expect(token.token).toBe("a");
    expect(token.expiresOnTimestamp - before).toBeGreaterThanOrEqual(3_598_000);
    expect(token.expiresOnTimestamp - before).toBeLessThanOrEqual(3_600_000);
    const body = { ...(tokenSuccess("b") as { body: Record<string, unknown> }).body };
    delete body.token_type;
    server.replies.push({ status: 200, body });
    expect((await credential().getToken(SCOPE)).token).toBe("b");
  });

  it("uses refresh_in only strictly between 0 and expires_in", async () => {
    const refreshAfter = async (refreshIn: unknown): Promise<number> => {
      server.replies.push(tokenSuccess("t", 3600, { refresh_in: refreshIn }));
      const token = await credential().getToken(SCOPE);
      return token.expiresOnTimestamp - (token.refreshAfterTimestamp ?? 0);
    };
    expect(await refreshAfter(0)).toBe(5 * 60_000);
    expect(await refreshAfter(3600)).toBe(5 * 60_000);
    expect(await refreshAfter(7200)).toBe(5 * 60_000);
    expect(await refreshAfter("0x10")).toBe(5 * 60_000);
    expect(await refreshAfter(600)).toBe(3000 * 1000);
    // A tiny refresh_in would make back-to-back refreshes: never sooner than a second.
    expect(await refreshAfter(0.001)).toBe(3599 * 1000);
  });
});

describe("clocks", () => {
  it("counts the lifetime from when the request was sent, not when the answer arrived", async () => {
    // A 2 s token answered 1.5 s after the request, on faked clocks: the answer is held for 3 s
    // of real time, and the clocks move 1.5 s once the request has arrived. Counted from the
    // answer, it would expire 3.5 s after the request; counted from the request, 2 s after.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.replies.push({ ...(tokenSuccess("slow", 2) as object), delayMs: 3000 } as Reply);
    const sent = Date.now();
    const cred = credential();
    const pending = cred.getToken(SCOPE);
    await pollUntil(() => server.requests.length > 0);
    expect(server.requests).toHaveLength(1);
    vi.advanceTimersByTime(1500);
    const token = await pending;
    expect(token.token).toBe("slow");
    expect(token.expiresOnTimestamp).toBe(sent + 2000);
    // 0.2 s safety margin: never served 1.8 s after it was requested (counted from the answer,
    // it would be fresh until 3.3 s).
    vi.advanceTimersByTime(sent + 1850 - Date.now());
    const next = await cred.getToken(SCOPE);
    expect(next.token).not.toBe("slow");
    expect(server.requests).toHaveLength(2);
  });

  it("serves a few-seconds token until its safety margin, then asks again", async () => {
    // The clocks are faked, so a loaded machine's late timers cannot move the moments tested.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.expiresIn = 3;
    const cred = credential();
    const first = await cred.getToken(SCOPE);
    vi.advanceTimersByTime(2000);
    expect(await cred.getToken(SCOPE)).toBe(first);
    vi.advanceTimersByTime(800);
    expect((await cred.getToken(SCOPE)).token).not.toBe(first.token);
  });

  it("decides validity on a monotonic clock: wall-clock jumps never extend a token", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const cred = credential();
    const first = await cred.getToken(SCOPE);
    // The wall clock jumps two hours ahead: the token is still fresh, no request.
    vi.setSystemTime(Date.now() + 2 * 3600_000);
    expect(await cred.getToken(SCOPE)).toBe(first);
    // Back three hours, then an hour really passes: the token expired all the same.
    vi.setSystemTime(Date.now() - 3 * 3600_000);
    vi.advanceTimersByTime(3600_000);
    const second = await cred.getToken(SCOPE);
    expect(second.token).not.toBe(first.token);
    expect(server.requests).toHaveLength(2);
    // expiresOnTimestamp stays wall time for callers.
    expect(Math.abs(second.expiresOnTimestamp - (Date.now() + 3599_000))).toBeLessThan(1000);
  });
});

describe("cool-downs after failures", () => {
  it("pauses a key after its retries failed: callers get throttled at once, nothing is sent", async () => {
    // Faked clocks (the 1 ms wait between attempts stays a real timer): the pause is exact.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.replies.push(...Array.from({ length: 2 }, () => ({ status: 503, body: "down" })));
    const cred = credential({ retryOptions: { maxRetries: 1, retryDelayInMs: 1 } });
    const original = await rejection(cred.getToken(SCOPE));
    expect(original.code).toBe("token_request_failed");
    expect(original.retryAfterInMs).toBe(5000);
    expect(server.requests).toHaveLength(2);
    const errors = await Promise.all(
      Array.from({ length: 50 }, () => rejection(cred.getToken(SCOPE))),
    );
    for (const error of errors) {
      expect(error.code).toBe("throttled");
      expect(error.retryAfterInMs).toBe(5000);
      expect(error.cause).toBe(original);
    }
    expect(server.requests).toHaveLength(2);
    // Another scope is its own key: not paused.
    expect((await cred.getToken("https://vault.azure.net/.default")).token).toBeTruthy();
  });

  it("cools down until Retry-After, capped at an hour, then sends again", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.replies.push({ status: 429, body: "slow down", headers: { "retry-after": "7200" } });
    const cred = credential({ retryOptions: { maxRetries: 0 } });
    const original = await rejection(cred.getToken(SCOPE));
    expect(original.retryAfterInMs).toBe(3600_000);
    const throttled = await rejection(cred.getToken(SCOPE));
    expect(throttled.code).toBe("throttled");
    expect(throttled.message).toMatch(/paused for 3600 seconds/);
    vi.advanceTimersByTime(3600_000);
    expect((await cred.getToken(SCOPE)).token).toBe(server.issued[0]);
    expect(server.requests).toHaveLength(2);
  });

  for (const retryAfter of ["0", "0.0001", "Thu, 01 Jan 1970 00:00:00 GMT"]) {
    it(`pauses for the default 5 s when Retry-After is ${JSON.stringify(retryAfter)}`, async () => {
      server.replies.push({ status: 429, body: "", headers: { "retry-after": retryAfter } });
      const cred = credential({ retryOptions: { maxRetries: 0 } });
      expect((await rejection(cred.getToken(SCOPE))).retryAfterInMs).toBe(5000);
      const throttled = await rejection(cred.getToken(SCOPE));
      expect(throttled.code).toBe("throttled");
      expect(server.requests).toHaveLength(1);
    });
  }

  it("keeps serving a valid cached token during a cool-down", async () => {
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    server.refreshIn = 60;
    const cred = credential({ retryOptions: { maxRetries: 0 } });
    const first = await cred.getToken(SCOPE);
    server.replies.push({ status: 429, body: "", headers: { "retry-after": "600" } });
    vi.advanceTimersByTime(61_000);
    expect(await cred.getToken(SCOPE)).toBe(first); // starts the background refresh
    await vi.waitFor(() => expect(server.requests).toHaveLength(2), { timeout: 10_000 });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(60_000);
      expect(await cred.getToken(SCOPE)).toBe(first);
    }
    // The background refresh waits out the cool-down instead of retrying every 30 s.
    expect(server.requests).toHaveLength(2);
  });

  it("bounds requests: callers over time cause at most 1 + maxRetries requests per cool-down", async () => {
    const maxRetries = 2;
    const always503: Reply = { status: 503, body: "", headers: { "retry-after": "1" } };
    server.replies.push(...Array.from({ length: 100 }, () => always503));
    const cred = credential({ retryOptions: { maxRetries, retryDelayInMs: 1 } });
    const started = Date.now();
    const calls: Array<Promise<unknown>> = [];
    // 2.5 s of callers, and at least 1,000 calls however late a loaded machine's timers fire.
    while (Date.now() - started < 2500 || calls.length <= 1000) {
      for (let i = 0; i < 20; i++) calls.push(cred.getToken(SCOPE).catch(() => undefined));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await Promise.all(calls);
    const elapsedSeconds = (Date.now() - started) / 1000;
    // Each round: (1 + maxRetries) attempts with 1 s waits capped to 50 ms, then a 1 s pause.
    const periods = Math.ceil(elapsedSeconds / 1) + 1;
    expect(calls.length).toBeGreaterThan(1000);
    expect(server.requests.length).toBeLessThanOrEqual((1 + maxRetries) * periods);
    expect(server.requests.length).toBeGreaterThanOrEqual(1 + maxRetries);
  });
});

describe("races", () => {
  it("never lets an older request overwrite a claims-challenge token", async () => {
    const cred = credential();
    server.replies.push({ ...(tokenSuccess("plain-old") as object), delayMs: 400 } as Reply);
    const plain = cred.getToken(SCOPE);
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 10_000 });
    server.replies.push(tokenSuccess("after-challenge"));
    const claims = JSON.stringify({ access_token: { nbf: { essential: true, value: "1" } } });
    expect((await cred.getToken(SCOPE, { claims })).token).toBe("after-challenge");
    expect((await plain).token).toBe("plain-old");
    // The plain request started first, so it does not replace the newer token.
    expect((await cred.getToken(SCOPE)).token).toBe("after-challenge");
    expect(server.requests).toHaveLength(2);
  });

  it("gives a caller that joins just after the last waiter aborted a fresh request", async () => {
    server.replies.push({ hang: true });
    const cred = credential();
    const controller = new AbortController();
    const first = cred.getToken(SCOPE, { abortSignal: controller.signal });
    await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 10_000 });
    controller.abort();
    const second = cred.getToken(SCOPE);
    await expect(first).rejects.toMatchObject({ name: "AbortError" });
    expect((await second).token).toBe(server.issued[0]);
    expect(server.requests).toHaveLength(2);
  });
});

describe("what the server sends back is not trusted", () => {
  it("scrubs the assertion and its pieces from every echoed field, message, JSON, inspect and log", async () => {
    const lines: string[] = [];
    const original = AzureLogger.log;
    AzureLogger.log = (...args: unknown[]) => lines.push(args.join(" "));
    setLogLevel("info");
    try {
      server.replies.push({
        status: 400,
        body: {
          error: `invalid_client ${ASSERTION}`,
          error_description: `AADSTS700213: bad ${ASSERTION} and its signature ${SIGNATURE} and payload ${PAYLOAD.slice(5, 60)}`,
          error_codes: [700213],
          correlation_id: `corr-${SIGNATURE}`,
          trace_id: `trace-${PAYLOAD}`,
          error_uri: `https://login.example/error?assertion=${ASSERTION}`,
          timestamp: SIGNATURE,
        },
      });
      const error = await rejection(credential().getToken(SCOPE));
      const printed = [
        error.message,
        JSON.stringify(error),
        inspect(error, { depth: 10 }),
        JSON.stringify(error.errorResponse),
        ...lines,
      ].join("\n");
      for (const secret of [ASSERTION, SIGNATURE, PAYLOAD, PAYLOAD.slice(5, 60)]) {
        expect(printed).not.toContain(secret);
      }
      expect(printed).toContain("[redacted]");
      expect(error.errorResponse?.errorCodes).toEqual([700213]);
    } finally {
      AzureLogger.log = original;
      setLogLevel();
    }
  });
});

describe("what the server sends back is not trusted, in redirects and odd times", () => {
  it("never prints an assertion echoed in a Location, whatever its scheme or letter case", async () => {
    const lines: string[] = [];
    const original = AzureLogger.log;
    AzureLogger.log = (...args: unknown[]) => lines.push(args.join(" "));
    setLogLevel("info");
    try {
      for (const location of [
        `x://${ASSERTION}`,
        `http://${ASSERTION}/`,
        `https://${PAYLOAD}.example/`,
        `https://example.org/?a=${ASSERTION}`,
      ]) {
        server.replies.push({ status: 302, body: "", headers: { location } });
        const error = await rejection(credential().getToken(SCOPE));
        expect(error.code).toBe("redirect_refused");
        const printed = [
          error.message,
          JSON.stringify(error),
          inspect(error, { depth: 10 }),
          ...lines,
        ]
          .join("\n")
          .toLowerCase();
        for (const secret of [ASSERTION, PAYLOAD, SIGNATURE]) {
          expect(printed).not.toContain(secret.toLowerCase());
          expect(printed).not.toContain(secret.slice(0, 20).toLowerCase());
        }
      }
    } finally {
      AzureLogger.log = original;
      setLogLevel();
    }
  });

  it("hints at an assertion time out of range without throwing", async () => {
    const microseconds = fakeJwt({ iss: "i", sub: "s", nbf: 1.7e15, exp: 1.7e15 + 3.6e9 });
    for (const code of [700024, 70023]) {
      server.replies.push(
        entraError(400, "invalid_client", code),
        entraError(400, "invalid_client", code),
      );
      const cred = new ClientAssertionCredential(TENANT, CLIENT, () => microseconds, {
        authorityHost: server.authorityHost,
      });
      const error = await rejection(cred.getToken(SCOPE));
      expect(error.code).toBe("token_request_rejected");
      expect(error.message).toMatch(/not a valid time/);
    }
  });
});

describe("echoes in a 200 and its headers", () => {
  it("scrubs an echoed token_type and Content-Encoding from the message", async () => {
    server.replies.push({
      status: 200,
      body: { token_type: SIGNATURE_LONG, expires_in: 3599, access_token: "a" },
    });
    server.replies.push({
      handle: (_request, response) => {
        response.writeHead(200, {
          "content-type": "application/json",
          "content-encoding": ASSERTION,
        });
        response.end("{}");
      },
    });
    for (let i = 0; i < 2; i++) {
      const error = await rejection(credential().getToken(SCOPE));
      expect(error.code).toBe("invalid_token_response");
      const printed = [error.message, JSON.stringify(error), inspect(error, { depth: 10 })].join(
        "\n",
      );
      expect(printed).not.toContain(SIGNATURE_LONG.slice(0, 20));
      expect(printed).not.toContain(PAYLOAD);
    }
  });
});

describe("input edges", () => {
  it("treats null options as none and never throws synchronously", async () => {
    const cred = credential();
    expect((await cred.getToken(SCOPE, null)).token).toBe(server.issued[0]);
    const calls: Array<() => Promise<unknown>> = [
      () => cred.getToken(null as unknown as string),
      () => cred.getToken(undefined as unknown as string),
      () => cred.getToken([] as string[]),
      () => cred.getToken(SCOPE, { tenantId: "../x" }),
      () =>
        cred.getToken(SCOPE, {
          get claims(): string {
            throw new Error("a getter that throws");
          },
        }),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(Error);
    }
  });

  it("refuses per-call tenant ids that could change the path, even with '*'", async () => {
    const cred = credential({ additionallyAllowedTenants: ["*"] });
    for (const tenantId of ["..", ".", "a..b", ".a", "a.", "a/b", "a%2e", "a b"]) {
      await expect(cred.getToken(SCOPE, { tenantId })).rejects.toMatchObject({
        code: "invalid_configuration",
      });
    }
    expect(server.requests).toHaveLength(0);
  });

  it("accepts plain http only for literal loopback hosts", () => {
    const make = (authorityHost: string) => () =>
      new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, { authorityHost });
    for (const host of [
      "http://localhost:1",
      "http://127.0.0.1:1",
      "http://127.9.8.7",
      "http://[::1]:1",
    ]) {
      expect(make(host)).not.toThrow();
    }
    for (const host of [
      "http://anything.localhost",
      "http://localhost.evil.example",
      "http://127.0.0.1.nip.io",
      "http://10.0.0.1",
    ]) {
      expect(make(host)).toThrow(CredentialUnavailableError);
    }
  });

  it("refuses durations Node timers cannot hold, and a zero timeout", () => {
    const make = (options: ClientAssertionCredentialOptions) => () => credential(options);
    for (const bad of [0, -1, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(make({ requestTimeoutInMs: bad })).toThrow(/requestTimeoutInMs/);
      expect(make({ retryOptions: { maxRetryDelayInMs: bad === 0 ? -1 : bad } })).toThrow(
        /maxRetryDelayInMs/,
      );
    }
    expect(make({ retryOptions: { retryDelayInMs: 2 ** 31 } })).toThrow(/retryDelayInMs/);
    expect(make({ retryOptions: { maxRetries: 1.5 } })).toThrow(/maxRetries/);
    expect(make({ requestTimeoutInMs: 2 ** 31 - 1 })).not.toThrow();
  });

  it("caps a huge Retry-After between attempts at maxRetryDelayInMs", async () => {
    server.replies.push({ status: 503, body: "", headers: { "retry-after": "99999999999" } });
    const started = Date.now();
    const token = await credential().getToken(SCOPE);
    expect(token.token).toBe(server.issued[0]);
    // The cap is 50 ms; uncapped, the wait would be years. Room for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.requests).toHaveLength(2);
  });

  it("does not retry a TLS failure and says how to trust the server", async () => {
    const { startEntra } = await import("./support/untrusted-https.js");
    const https = await startEntra();
    try {
      const cred = new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
        authorityHost: https.url,
        retryOptions: { retryDelayInMs: 1 },
      });
      const error = await rejection(cred.getToken(SCOPE));
      expect(error.code).toBe("tls_error");
      expect(error.message).toMatch(/NODE_EXTRA_CA_CERTS|tlsOptions/);
      expect(https.connections()).toBe(1);
    } finally {
      await https.close();
    }
  });
});

describe("entra errors", () => {
  it("keeps a claims-less 401 refusal as token_request_rejected", async () => {
    server.replies.push(entraError(401, "invalid_client", 700213));
    const error = await rejection(credential().getToken(SCOPE));
    expect(error.code).toBe("token_request_rejected");
  });
});
