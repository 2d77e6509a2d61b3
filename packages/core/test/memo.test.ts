import { afterEach, describe, expect, it, vi } from "vitest";
import { type AssertionContext, memoizeAssertion } from "../src/index.js";
import { fakeJwt } from "./token-server.js";

const context: AssertionContext = {
  clientId: "c",
  tenantId: "t",
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
};

afterEach(() => vi.useRealTimers());

describe("memoizeAssertion", () => {
  it("keeps the assertion until a margin before exp and shares one in-flight fetch", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const now = Math.floor(Date.now() / 1000);
    let serial = 0;
    const fetch = vi.fn(async () => fakeJwt({ iat: now, exp: now + 3600, n: ++serial }));
    const memo = memoizeAssertion(fetch, { refreshMarginInMs: 120_000 });
    const first = await Promise.all(Array.from({ length: 20 }, () => memo(context)));
    expect(new Set(first).size).toBe(1);
    expect(fetch).toHaveBeenCalledTimes(1);
    vi.setSystemTime((now + 3600 - 121) * 1000);
    expect(await memo(context)).toBe(first[0]);
    expect(fetch).toHaveBeenCalledTimes(1);
    vi.setSystemTime((now + 3600 - 119) * 1000);
    expect(await memo(context)).not.toBe(first[0]);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("never keeps an assertion past a fifth of its lifetime before exp", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const now = Math.floor(Date.now() / 1000);
    const fetch = vi.fn(async () => fakeJwt({ iat: now, exp: now + 600 }));
    const memo = memoizeAssertion(fetch);
    await memo(context);
    vi.setSystemTime((now + 479) * 1000);
    await memo(context);
    expect(fetch).toHaveBeenCalledTimes(1);
    vi.setSystemTime((now + 481) * 1000);
    await memo(context);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("keeps a MemoizedAssertion until its refreshAfterTimestamp, whatever its claims say", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    // The claims claim an hour; the source says the grant lasts 100 s and to renew at 80 s.
    const claims = { iat: Math.floor(start / 1000), exp: Math.floor(start / 1000) + 3600 };
    let serial = 0;
    const fetch = vi.fn(async () => ({
      assertion: fakeJwt({ ...claims, n: ++serial }),
      expiresOnTimestamp: start + 100_000,
      refreshAfterTimestamp: start + 80_000,
    }));
    const memo = memoizeAssertion(fetch);
    const first = await memo(context);
    expect(typeof first).toBe("string");
    vi.setSystemTime(start + 79_000);
    expect(await memo(context)).toBe(first);
    vi.setSystemTime(start + 80_001);
    expect(await memo(context)).not.toBe(first);
    expect(fetch).toHaveBeenCalledTimes(2);

    // Without refreshAfterTimestamp: the margin before expiresOnTimestamp, never past it.
    const late = vi.fn(async () => ({
      assertion: "opaque-but-dated",
      expiresOnTimestamp: Date.now() + 400_000,
      refreshAfterTimestamp: Date.now() + 900_000,
    }));
    const memoLate = memoizeAssertion(late);
    expect(await memoLate(context)).toBe("opaque-but-dated");
    vi.setSystemTime(Date.now() + 399_000);
    await memoLate(context);
    expect(late).toHaveBeenCalledTimes(1);
    vi.setSystemTime(Date.now() + 2_000);
    await memoLate(context);
    expect(late).toHaveBeenCalledTimes(2);
  });

  it("fetches anew on forceRefresh, does not keep assertions without exp, and does not keep failures", async () => {
    const now = Math.floor(Date.now() / 1000);
    const fetch = vi.fn(async () => fakeJwt({ exp: now + 3600 }));
    const memo = memoizeAssertion(fetch);
    await memo(context);
    await memo({ ...context, forceRefresh: true });
    expect(fetch).toHaveBeenCalledTimes(2);

    const opaque = vi.fn(async () => "not-a-jwt");
    const memoOpaque = memoizeAssertion(opaque);
    await memoOpaque(context);
    await memoOpaque(context);
    expect(opaque).toHaveBeenCalledTimes(2);

    let fail = true;
    const flaky = vi.fn(async () => {
      if (fail) throw new Error("down");
      return fakeJwt({ exp: now + 3600 });
    });
    const memoFlaky = memoizeAssertion(flaky);
    await expect(memoFlaky(context)).rejects.toThrow("down");
    fail = false;
    await expect(memoFlaky(context)).resolves.toMatch(/\./);
    expect(flaky).toHaveBeenCalledTimes(2);
  });
});

describe("memoizeAssertion and abort", () => {
  it("one caller's abort never fails another caller sharing the fetch; the last one aborts it", async () => {
    const signals: AbortSignal[] = [];
    const fetch = vi.fn(
      (context: AssertionContext) =>
        new Promise<string>((resolve, reject) => {
          signals.push(context.abortSignal as AbortSignal);
          const timer = setTimeout(() => resolve(fakeJwt({ exp: 4_000_000_000 })), 100);
          context.abortSignal?.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(new Error("aborted"));
          });
        }),
    );
    const memo = memoizeAssertion(fetch);
    const first = new AbortController();
    const a = memo({ ...context, abortSignal: first.signal });
    const b = memo({ ...context, abortSignal: new AbortController().signal });
    first.abort();
    await expect(a).rejects.toMatchObject({ name: "AbortError" });
    await expect(b).resolves.toMatch(/\./);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(signals[0]?.aborted).toBe(false);

    const lone = new AbortController();
    const forced = memo({ ...context, forceRefresh: true, abortSignal: lone.signal });
    lone.abort();
    await expect(forced).rejects.toMatchObject({ name: "AbortError" });
    expect(signals[1]?.aborted).toBe(true);
    // The next caller starts a fresh fetch instead of joining the aborted one.
    await expect(memo({ ...context, forceRefresh: true })).resolves.toMatch(/\./);
    expect(fetch).toHaveBeenCalledTimes(3);
  });
});
