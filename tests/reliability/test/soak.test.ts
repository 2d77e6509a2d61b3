import { type AccessToken, ClientAssertionCredential } from "@fedcred/core";
import type { Fault } from "@fedcred/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLIENT_ID,
  claimsOf,
  type Federation,
  startFederation,
} from "./support/load-federation.js";

// The suite's one long test: real seconds, since what it checks is how refresh behaves over time.
const SOAK_MS = Number(process.env.FEDCRED_SOAK_SECONDS ?? 60) * 1000;
const LIFETIME_SECONDS = 8;
/** Core stops serving a token this long before it expires: a tenth of a short lifetime. */
const SAFETY_MARGIN_MS = Math.min(30_000, (LIFETIME_SECONDS * 1000) / 10);
const CALL_INTERVAL_MS = 10;
const RESOURCES = ["https://storage.azure.com", "https://vault.azure.net"];
/** Faults played in turn on the token requests (the refreshes) while the soak runs. */
const FAULTS: Fault[] = [
  { kind: "delay", delayMs: 1500 },
  { kind: "status", status: 503 },
  { kind: "delay", delayMs: 400 },
  { kind: "drop" },
  { kind: "status", status: 429, retryAfter: 0 },
];

let federation: Federation;

beforeAll(async () => {
  federation = await startFederation({
    tenants: 2,
    entra: { accessTokenLifetimeSeconds: LIFETIME_SECONDS },
  });
});

afterAll(async () => {
  await federation?.close();
});

interface KeyState {
  tenantId: string;
  scope: string;
  /** The newest token the credential returned for this key. */
  last: AccessToken | undefined;
  tokens: Set<string>;
  /** Calls made while no servable token had been returned yet or any more. */
  cold: number;
  /** Cold calls made after the key already had a token: a refresh came too late. */
  coldAfterFirstToken: number;
  warm: number;
  /** Warm calls that had not settled by the next turn of the event loop: they waited. */
  warmThatWaited: number;
  warmLatencies: number[];
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

describe("soak", () => {
  it(`tokens living ${LIFETIME_SECONDS} s, refreshed for ${SOAK_MS / 1000} s under constant calls: never expired, never waiting while a valid token exists`, async () => {
    const { entra, tenants } = federation;
    const credential = new ClientAssertionCredential(
      tenants[0] as string,
      CLIENT_ID,
      () => federation.mint(600),
      {
        authorityHost: entra.url,
        additionallyAllowedTenants: ["*"],
        retryOptions: { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
      },
    );
    const keys: KeyState[] = tenants.flatMap((tenantId) =>
      RESOURCES.map((resource) => ({
        tenantId,
        scope: `${resource}/.default`,
        last: undefined,
        tokens: new Set<string>(),
        cold: 0,
        coldAfterFirstToken: 0,
        warm: 0,
        warmThatWaited: 0,
        warmLatencies: [],
      })),
    );
    const expiredReturns: string[] = [];
    const failures: unknown[] = [];
    const pending = new Set<Promise<unknown>>();

    const call = (key: KeyState): void => {
      const startedAt = Date.now();
      const started = performance.now();
      const valid =
        key.last !== undefined && key.last.expiresOnTimestamp - SAFETY_MARGIN_MS > startedAt;
      let settled = false;
      const promise = credential.getToken(key.scope, { tenantId: key.tenantId }).then(
        (token) => {
          settled = true;
          const now = Date.now();
          const exp = claimsOf(token.token).exp as number;
          if (token.expiresOnTimestamp <= now || exp * 1000 <= now) {
            expiredReturns.push(
              `${key.tenantId} ${key.scope}: expiresOnTimestamp ${token.expiresOnTimestamp}, exp ${exp}, now ${now}`,
            );
          }
          if (valid) key.warmLatencies.push(performance.now() - started);
          if (key.last === undefined || token.expiresOnTimestamp >= key.last.expiresOnTimestamp) {
            key.last = token;
          }
          key.tokens.add(token.token);
        },
        (error: unknown) => {
          settled = true;
          failures.push(error);
        },
      );
      pending.add(promise);
      void promise.finally(() => pending.delete(promise));
      if (valid) {
        key.warm++;
        // A cached answer settles within microtasks; one that waits for a request cannot.
        setImmediate(() => {
          if (!settled) key.warmThatWaited++;
        });
      } else {
        key.cold++;
        if (key.tokens.size > 0) key.coldAfterFirstToken++;
      }
    };

    let faultIndex = 0;
    const faultTimer = setInterval(() => {
      entra.injectFault(FAULTS[faultIndex++ % FAULTS.length] as Fault);
    }, 1700);
    const deadline = performance.now() + SOAK_MS;
    while (performance.now() < deadline) {
      for (const key of keys) call(key);
      await new Promise((resolve) => setTimeout(resolve, CALL_INTERVAL_MS));
    }
    clearInterval(faultTimer);
    await Promise.all(pending);
    await credential.close();

    expect(failures).toEqual([]);
    expect(expiredReturns).toEqual([]);
    const expectedRefreshes = Math.floor(SOAK_MS / (LIFETIME_SECONDS * 1000));
    for (const key of keys) {
      expect(key.warmThatWaited, `${key.tenantId} ${key.scope}`).toBe(0);
      expect(key.coldAfterFirstToken, `${key.tenantId} ${key.scope}`).toBe(0);
      // Refreshed all along: at least one new token per lifetime.
      expect(key.tokens.size).toBeGreaterThanOrEqual(expectedRefreshes);
    }
    const warm = keys.reduce((sum, key) => sum + key.warm, 0);
    const cold = keys.reduce((sum, key) => sum + key.cold, 0);
    const latencies = keys.flatMap((key) => key.warmLatencies);
    const tokens = keys.reduce((sum, key) => sum + key.tokens.size, 0);
    console.log(
      `soak: ${SOAK_MS / 1000} s, ${keys.length} keys, ${warm + cold} calls (${warm} with a valid token cached, none of which waited; ${cold} before the first token); ` +
        `${tokens} tokens issued over ${entra.tokenRequestCount} token requests, ${faultIndex} faults queued on them; ` +
        `latency with a valid token: p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, max ${Math.max(0, ...latencies).toFixed(2)} ms`,
    );
  });
});
