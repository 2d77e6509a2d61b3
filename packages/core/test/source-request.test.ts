import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  appendQuery,
  CredentialUnavailableError,
  checkSourceJwt,
  createTransport,
  describeUrl,
  type HttpRequest,
  quoteServerText,
  restateTransportFailure,
  retryAfterInMs,
  type SendWithRetriesOptions,
  sendWithRetries,
  type Transport,
} from "../src/index.js";
import { fakeJwt, startTokenServer, type TokenServer } from "./token-server.js";

let server: TokenServer;
let transport: Transport;

beforeEach(async () => {
  server = await startTokenServer();
  transport = createTransport();
});

afterEach(async () => {
  await server.close();
});

const request = (signal?: AbortSignal): HttpRequest => ({
  url: `${server.authorityHost}/token?key=secret`,
  method: "GET",
  headers: { authorization: "Bearer request-secret" },
  signal,
  timeoutInMs: 5_000,
  maxBodyBytes: 64 * 1024,
});

const options = (overrides: Partial<SendWithRetriesOptions> = {}): SendWithRetriesOptions => ({
  maxAttempts: 3,
  retryStatus: (status) => status === 429 || status >= 500,
  delayInMs: () => 1,
  describeTransportFailure: (error) =>
    restateTransportFailure(error, (said) => `The source failed: ${said}`),
  ...overrides,
});

describe("sendWithRetries", () => {
  it("asks again after retryable statuses, with the delay asked for, until an answer is final", async () => {
    server.replies.push(
      { status: 503, body: "busy", headers: { "retry-after": "0" } },
      { status: 429, body: "slow down" },
    );
    const delays: Array<[number, number | undefined]> = [];
    const { response, attempts } = await sendWithRetries(
      transport,
      request(),
      options({
        delayInMs: (attempt, answer) => {
          delays.push([attempt, answer?.status]);
          return retryAfterInMs(answer) ?? 1;
        },
      }),
    );
    expect(response.status).toBe(200);
    expect(attempts).toBe(3);
    expect(delays).toEqual([
      [1, 503],
      [2, 429],
    ]);
    expect(server.requests).toHaveLength(3);
    expect(server.requests.every((r) => r.headers.authorization === "Bearer request-secret")).toBe(
      true,
    );
  });

  it("returns the last retryable answer once the attempts are spent, and a final one at once", async () => {
    server.replies.push(
      { status: 500, body: "1" },
      { status: 500, body: "2" },
      { status: 500, body: "3" },
      { status: 500, body: "4" },
    );
    const spent = await sendWithRetries(transport, request(), options());
    expect([spent.response.status, spent.response.body, spent.attempts]).toEqual([500, "3", 3]);
    server.replies.length = 0;
    server.replies.push({ status: 403, body: "no" });
    const final = await sendWithRetries(transport, request(), options());
    expect([final.response.status, final.attempts]).toEqual([403, 1]);
    expect(server.requests).toHaveLength(4);
  });

  it("a dropped connection is retried only when asked, and is then said as the source's", async () => {
    server.replies.push({ drop: true });
    const retried = await sendWithRetries(
      transport,
      request(),
      options({ retryTransportErrors: true }),
    );
    expect(retried).toMatchObject({ attempts: 2, response: { status: 200 } });
    server.replies.push({ drop: true }, { drop: true });
    const error = await sendWithRetries(transport, request(), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect((error as CredentialUnavailableError).code).toBe("assertion_unavailable");
    expect((error as Error).message).toMatch(/^The source failed: /);
    expect((error as Error).cause).toBeInstanceOf(AuthenticationError);
    expect(server.requests).toHaveLength(3);
  });

  it("checkResponse ends the loop at once, retryable status or not", async () => {
    server.replies.push({ status: 503, body: "not ours" });
    const error = await sendWithRetries(
      transport,
      request(),
      options({
        checkResponse: (response) => {
          throw new Error(`wrong server (${response.status})`);
        },
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe("wrong server (503)");
    expect(server.requests).toHaveLength(1);
  });

  it("an abort during the pause rejects at once with an AbortError", async () => {
    server.replies.push({ status: 503, body: "busy" });
    const controller = new AbortController();
    const pending = sendWithRetries(
      transport,
      request(controller.signal),
      options({ delayInMs: () => 600_000 }),
    ).catch((e: unknown) => e);
    await expect.poll(() => server.requests.length).toBe(1);
    controller.abort();
    expect(((await pending) as Error).name).toBe("AbortError");
    expect(server.requests).toHaveLength(1);
  });
});

describe("restateTransportFailure", () => {
  it("keeps a refused redirect's code and status, and returns other errors as they are", async () => {
    server.replies.push({
      status: 302,
      body: "",
      headers: { location: "https://elsewhere.test/" },
    });
    const redirect = await transport.send(request()).catch((e: unknown) => e);
    const restated = restateTransportFailure(redirect, (said) => `The source said no: ${said}`);
    expect(restated).toBeInstanceOf(AuthenticationError);
    expect((restated as AuthenticationError).code).toBe((redirect as AuthenticationError).code);
    expect((restated as AuthenticationError).statusCode).toBe(302);
    expect((restated as Error).cause).toBe(redirect);
    const plain = new TypeError("not ours");
    expect(restateTransportFailure(plain, () => "unused")).toBe(plain);
  });
});

describe("quoteServerText", () => {
  it("takes out secrets and JWT-shaped runs, folds white space and cuts to maxChars", () => {
    const jwt = fakeJwt({ sub: "x" });
    expect(
      quoteServerText(`  denied\n for s3cr3t-key,\ttoken ${jwt} ok `, { secrets: ["s3cr3t-key"] }),
    ).toBe("denied for [redacted], token [redacted] ok");
    expect(quoteServerText("x".repeat(500))).toHaveLength(300);
    expect(quoteServerText("abcdef", { maxChars: 3, secrets: [undefined, ""] })).toBe("abc");
    expect(quoteServerText(" \n ")).toBe("");
  });
});

describe("retryAfterInMs", () => {
  const answer = (value?: string) => ({
    status: 503,
    body: "",
    headers: { get: (name: string) => (name === "retry-after" ? (value ?? null) : null) },
  });
  it("reads seconds and HTTP dates, and nothing else", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterInMs(answer("0"), now)).toBe(0);
    expect(retryAfterInMs(answer("1.5"), now)).toBe(1500);
    expect(retryAfterInMs(answer("Thu, 01 Jan 2026 00:00:07 GMT"), now)).toBe(7000);
    expect(retryAfterInMs(answer("Wed, 31 Dec 2025 23:00:00 GMT"), now)).toBe(0);
    expect(retryAfterInMs(answer("999999"), now)).toBe(3600_000);
    expect(retryAfterInMs(answer("soon"), now)).toBeUndefined();
    expect(retryAfterInMs(answer(), now)).toBeUndefined();
    expect(retryAfterInMs(undefined, now)).toBeUndefined();
  });
});

describe("checkSourceJwt", () => {
  it("tells a token from what is not one, and an expired one", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const live = fakeJwt({ exp: now / 1000 + 60 });
    expect(checkSourceJwt(` ${live}\n`, { now })).toMatchObject({
      token: live,
      expiresOnTimestamp: now + 60_000,
    });
    expect(checkSourceJwt(fakeJwt({ sub: "x" }), { now })).toMatchObject({
      expiresOnTimestamp: undefined,
    });
    expect(checkSourceJwt(42).problem).toBe("not_jwt");
    expect(checkSourceJwt("opaque").problem).toBe("not_jwt");
    expect(checkSourceJwt("eyJhbGciOiJub25lIn0.e30.").problem).toBeUndefined();
    expect(checkSourceJwt("eyJhbGciOiJub25lIn0.e30.", { requireSignature: true }).problem).toBe(
      "not_jwt",
    );
    expect(checkSourceJwt("abc.def.ghi").problem).toBe("payload_not_json");
    const dead = fakeJwt({ exp: now / 1000 - 1 });
    expect(checkSourceJwt(dead, { now })).toEqual({
      problem: "expired",
      expiresOnTimestamp: now - 1000,
    });
    expect(checkSourceJwt(dead, { now, checkExpiry: false }).problem).toBeUndefined();
  });
});

describe("describeUrl and appendQuery", () => {
  it("show origin and path only, and append after any query", () => {
    expect(describeUrl("https://user:pw@tokens.example:8443/oidc/token?key=secret#x")).toBe(
      "https://tokens.example:8443/oidc/token",
    );
    expect(appendQuery(new URL("https://a.example/t"), "x=1")).toBe("https://a.example/t?x=1");
    expect(appendQuery(new URL("https://a.example/t?"), "x=1")).toBe("https://a.example/t?x=1");
    expect(appendQuery(new URL("https://a.example/t#frag"), "x=1")).toBe("https://a.example/t?x=1");
    expect(appendQuery(new URL("https://a.example/t?v=2"), "x=1")).toBe(
      "https://a.example/t?v=2&x=1",
    );
  });
});
