import { ClientAssertionCredential } from "@fedcred/core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { fromServiceAccountToken } from "../src/index.js";
import {
  APP,
  claimsOf,
  type Federation,
  SCOPE,
  startFederation,
  TENANT,
  tokenRequestsOf,
} from "./cluster.js";

/** The API server shortens every token to this (--service-account-max-token-expiration). */
const GRANTED_SECONDS = 1000;

let federation: Federation;

beforeAll(async () => {
  // Entra's access tokens live 60 s: access tokens are refreshed many times per service-account token.
  federation = await startFederation({
    maxExpirationSeconds: GRANTED_SECONDS,
    accessTokenLifetimeSeconds: 60,
  });
});
afterAll(() => federation?.close());
afterEach(() => {
  vi.useRealTimers();
});

describe("renewal follows the lifetime the API server granted", () => {
  it("sends one TokenRequest per 80% of the granted lifetime across many access-token refreshes", async () => {
    // Only the clocks are faked (Date, and performance.now for the credential's cache): the API
    // server, Entra, the memo and the credential all read them, while sockets and timers run for
    // real. advanceTimersByTime moves both clocks and fires no timer. The start is a whole
    // second, as the API server's timestamps are.
    vi.useFakeTimers({ toFake: ["Date", "performance"] });
    vi.setSystemTime(Math.ceil(Date.now() / 1000) * 1000);
    const start = Date.now();
    const credential = new ClientAssertionCredential(
      TENANT,
      APP,
      fromServiceAccountToken({
        serviceAccount: "billing",
        namespace: "prod",
        kubeConfig: federation.kubeConfig(),
      }),
      { authorityHost: federation.entra.url },
    );
    const minted = (): number => tokenRequestsOf(federation.kubernetes).length;
    const at = async (seconds: number): Promise<void> => {
      vi.advanceTimersByTime(start + seconds * 1000 - Date.now());
      await credential.getToken(SCOPE);
    };
    try {
      await at(0);
      expect(minted()).toBe(1);
      // Every 100 s a new access token (each lives 60 s, so each step needs one), with the same
      // service-account token until 80% of the granted 1000 s: 800 s.
      for (const seconds of [100, 200, 300, 400, 500, 600, 700, 799]) await at(seconds);
      expect(minted()).toBe(1);
      await at(900);
      expect(minted()).toBe(2);
      // The second was granted 1000 s at 900 s: kept until 900 + 800 = 1700 s, not longer.
      for (const seconds of [1000, 1100, 1200, 1300, 1400, 1500, 1600, 1699]) await at(seconds);
      expect(minted()).toBe(2);
      await at(1760);
      expect(minted()).toBe(3);
    } finally {
      await credential.close();
    }

    // Asked for an explicit 3600 s every time; the server granted 1000 s.
    for (const request of tokenRequestsOf(federation.kubernetes)) {
      expect(request.body).toMatchObject({ spec: { expirationSeconds: 3600 } });
    }
    const exchanges = federation.tokenRequests();
    expect(exchanges).toHaveLength(19);
    expect(exchanges.every((exchange) => exchange.status === 200)).toBe(true);
    // Each exchange sent the token minted last, never an expired one.
    for (const exchange of exchanges) {
      const { iat, exp } = claimsOf(exchange.form.client_assertion ?? "") as {
        iat: number;
        exp: number;
      };
      expect(exp - iat).toBe(GRANTED_SECONDS);
      expect(exchange.at.getTime()).toBeLessThan(exp * 1000);
      expect(exchange.at.getTime() - iat * 1000).toBeLessThan(0.8 * GRANTED_SECONDS * 1000 + 2000);
    }
    expect(new Set(exchanges.map((exchange) => exchange.form.client_assertion)).size).toBe(3);
  });
});
