import { ClientAssertionCredential } from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { fromAwsWebIdentityToken } from "../src/index.js";
import { APP, claimsOf, type Federation, SCOPE, startFederation, TENANT } from "./federation.js";

let federation: Federation;

beforeAll(async () => {
  // Access tokens live 1 s: every getToken below, seconds apart, needs a new one from Entra.
  federation = await startFederation({ accessTokenLifetimeSeconds: 1 });
});
afterAll(() => federation?.close());
afterEach(() => {
  vi.useRealTimers();
});

describe("renewal follows the token's lifetime, not the access token's", () => {
  it("reuses the STS token across access-token refreshes until 80% of its 60 s, then asks STS again", async () => {
    // Only the clocks are faked (Date, and performance.now for the credential's cache): STS,
    // Entra, the SDK's signature, the memo and the credential all read them, while sockets and
    // timers run for real. advanceTimersByTime moves both clocks and fires no timer.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    const start = Date.now();
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromAwsWebIdentityToken({ clientConfig: federation.clientConfig(), durationSeconds: 60 }),
      { authorityHost: federation.entra.url },
    );
    try {
      const first = await credential.getToken(SCOPE);
      expect(federation.webIdentityRequests()).toHaveLength(1);

      // 30 s on: the access token expired long ago, the STS token (fresh until 48 s) did not.
      vi.advanceTimersByTime(30_000);
      const second = await credential.getToken(SCOPE);
      expect(second.token).not.toBe(first.token);
      expect(federation.webIdentityRequests()).toHaveLength(1);

      // 50 s on: past 80% of the STS token's lifetime, so STS is asked again.
      vi.advanceTimersByTime(20_000);
      const third = await credential.getToken(SCOPE);
      expect(third.token).not.toBe(second.token);
      expect(federation.webIdentityRequests()).toHaveLength(2);
    } finally {
      await credential.close();
    }

    const requests = federation.webIdentityRequests();
    expect(requests.every((request) => request.params.DurationSeconds === "60")).toBe(true);
    const exchanges = federation.tokenRequests();
    expect(exchanges.every((exchange) => exchange.status === 200)).toBe(true);
    const assertions = exchanges.map((exchange) => exchange.form.client_assertion ?? "");
    const [firstAssertion] = assertions;
    const lastAssertion = assertions.at(-1) ?? "";
    // Every exchange before the 50 s mark sent the first STS token; the last sent the second.
    const before50 = exchanges.filter((exchange) => exchange.at.getTime() < start + 50_000);
    expect(before50.length).toBeGreaterThanOrEqual(2);
    expect(new Set(before50.map((exchange) => exchange.form.client_assertion))).toEqual(
      new Set([firstAssertion]),
    );
    expect(lastAssertion).not.toBe(firstAssertion);
    const { iat, exp } = claimsOf(lastAssertion) as { iat: number; exp: number };
    expect(exp - iat).toBe(60);
    expect(iat * 1000).toBeGreaterThanOrEqual(start + 49_000);
  });
});
