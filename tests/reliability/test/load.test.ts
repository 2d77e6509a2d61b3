import { type AccessToken, ClientAssertionCredential, FedcredError } from "@fedcred/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueFaultRate } from "./support/load-faults.js";
import {
  CLIENT_ID,
  claimsOf,
  type Federation,
  seededRandom,
  startFederation,
} from "./support/load-federation.js";

const TENANTS = 200;
const RESOURCES = [
  "https://storage.azure.com",
  "https://vault.azure.net",
  "https://management.azure.com",
  "https://graph.microsoft.com",
  "https://database.windows.net",
];
const CALLS = 10_000;
const FAULT_RATE = 0.1;
const MAX_RETRIES = 3;
const SEED = Number(process.env.FEDCRED_LOAD_SEED ?? 20261201);

let federation: Federation;

beforeAll(async () => {
  federation = await startFederation({ tenants: TENANTS });
});

afterAll(async () => {
  await federation?.close();
});

interface Call {
  tenantId: string;
  resource: string;
}

describe("load", () => {
  it(`${CALLS} getToken calls over ${TENANTS} tenants x ${RESOURCES.length} scopes, ${FAULT_RATE * 100}% of token requests failing transiently`, async () => {
    const { entra, tenants } = federation;
    const random = seededRandom(SEED);
    const keys = tenants.length * RESOURCES.length;
    // Enough draws for every request the bound allows; later requests pass.
    const faults = queueFaultRate(entra, {
      rate: FAULT_RATE,
      requests: keys * (1 + MAX_RETRIES),
      random,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", onUnhandled);

    const assertion = await federation.mint();
    let assertionCalls = 0;
    const credential = new ClientAssertionCredential(
      tenants[0] as string,
      CLIENT_ID,
      () => {
        assertionCalls++;
        return assertion;
      },
      {
        authorityHost: entra.url,
        additionallyAllowedTenants: ["*"],
        retryOptions: { maxRetries: MAX_RETRIES, retryDelayInMs: 5, maxRetryDelayInMs: 50 },
      },
    );

    // Ten calls per key, in an order shuffled by the seed, all started at once.
    const calls: Call[] = [];
    for (let i = 0; i < CALLS; i++) {
      const key = i % keys;
      calls.push({
        tenantId: tenants[Math.floor(key / RESOURCES.length)] as string,
        resource: RESOURCES[key % RESOURCES.length] as string,
      });
    }
    for (let i = calls.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [calls[i], calls[j]] = [calls[j] as Call, calls[i] as Call];
    }
    const started = performance.now();
    const outcomes = await Promise.allSettled(
      calls.map((call) =>
        credential.getToken(`${call.resource}/.default`, { tenantId: call.tenantId }),
      ),
    );
    const durationMs = Math.round(performance.now() - started);
    // Let any stray rejection surface before looking.
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off("unhandledRejection", onUnhandled);

    // Every call ends with a token for its own tenant and resource, or a typed error.
    const tokensByKey = new Map<string, Set<string>>();
    const errorCodes = new Map<string, number>();
    for (const [index, outcome] of outcomes.entries()) {
      const call = calls[index] as Call;
      const key = `${call.tenantId} ${call.resource}`;
      if (outcome.status === "fulfilled") {
        const token: AccessToken = outcome.value;
        expect(token.token.length).toBeGreaterThan(0);
        expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
        const set = tokensByKey.get(key) ?? new Set();
        set.add(token.token);
        tokensByKey.set(key, set);
      } else {
        const error = outcome.reason as FedcredError;
        expect(FedcredError.isInstance(error), String(error)).toBe(true);
        expect(["token_request_failed", "throttled"]).toContain(error.code);
        expect(error.message).toMatch(/token endpoint|token request|request to|paused/);
        errorCodes.set(error.code, (errorCodes.get(error.code) ?? 0) + 1);
      }
    }
    expect(unhandled).toEqual([]);

    // One token per key (the callers of a key shared one request), issued for that key.
    for (const [key, set] of tokensByKey) {
      expect(set.size, key).toBe(1);
      const [tenantId, resource] = key.split(" ");
      const claims = claimsOf([...set][0] as string);
      expect(claims.tid).toBe(tenantId);
      expect(claims.aud).toBe(resource);
    }

    // Requests, counted at the emulator: one success per key that got a token, and per key at
    // most 1 + maxRetries attempts; every other request is a fault the emulator played.
    const tokenRequests = entra.requests.filter((record) => record.path.endsWith("/token"));
    expect(tokenRequests.length).toBe(entra.tokenRequestCount);
    const perKey = new Map<string, number>();
    for (const record of tokenRequests) {
      const key = `${record.tenant} ${record.form.scope?.replace(/\/\.default$/, "")}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    expect(perKey.size).toBe(keys);
    expect(Math.max(...perKey.values())).toBeLessThanOrEqual(1 + MAX_RETRIES);
    const succeeded = tokenRequests.filter((record) => record.status === 200).length;
    const failed = tokenRequests.length - succeeded;
    expect(succeeded).toBe(tokensByKey.size);
    expect(
      tokenRequests.every((record) => [0, 200, 429, 500, 502, 503, 504].includes(record.status)),
    ).toBe(true);
    expect(entra.tokenRequestCount).toBeLessThanOrEqual(keys * (1 + MAX_RETRIES));
    expect(assertionCalls).toBe(keys);
    // The pattern really failed about one request in ten, and callers were spared nearly all of it.
    expect(failed).toBeGreaterThan(0.05 * tokenRequests.length);
    expect(failed).toBeLessThan(0.15 * tokenRequests.length);
    expect(tokensByKey.size).toBeGreaterThanOrEqual(keys - 3);

    const errors = outcomes.filter((outcome) => outcome.status === "rejected").length;
    console.log(
      `load: ${CALLS} getToken calls, ${keys} keys (${TENANTS} tenants x ${RESOURCES.length} scopes), seed ${SEED}; ` +
        `${entra.tokenRequestCount} token requests (${succeeded} answered 200, ${failed} failed transiently of ${faults.failures} faults queued; bound ${keys * (1 + MAX_RETRIES)}); ` +
        `${errors} calls ended with a typed error ${JSON.stringify(Object.fromEntries(errorCodes))}; ${durationMs} ms`,
    );
    await credential.close();
  });
});
