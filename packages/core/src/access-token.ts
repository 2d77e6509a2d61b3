import { inspect } from "node:util";
import type { AccessToken } from "./token-credential.js";

function printable(this: AccessToken): Record<string, unknown> {
  return {
    token: "[redacted]",
    expiresOnTimestamp: this.expiresOnTimestamp,
    refreshAfterTimestamp: this.refreshAfterTimestamp,
    tokenType: this.tokenType,
  };
}

const hidden = { enumerable: false } as const;

/**
 * An `AccessToken` as a plain object, like `@azure/identity`'s: `token` is an ordinary
 * enumerable property, so `{ ...token }`, `structuredClone` and `Object.assign` keep it. Only
 * `JSON.stringify` and `util.inspect` show `[redacted]` instead, through a non-enumerable
 * `toJSON` and inspect hook that copies leave behind. Frozen: it is shared by every cache hit.
 */
export function createAccessToken(
  token: string,
  expiresOnTimestamp: number,
  refreshAfterTimestamp: number,
): AccessToken {
  const accessToken = {
    token,
    expiresOnTimestamp,
    refreshAfterTimestamp,
    tokenType: "Bearer" as const,
  };
  Object.defineProperty(accessToken, "toJSON", { ...hidden, value: printable });
  Object.defineProperty(accessToken, inspect.custom, { ...hidden, value: printable });
  // Every cache hit returns this object: frozen, so no caller can change it for the others.
  return Object.freeze(accessToken);
}

/** How long before its expiry a cached token stops being served: 30 s, or a tenth of a shorter lifetime. */
export function safetyMargin(lifetimeInMs: number): number {
  return Math.min(30_000, lifetimeInMs / 10);
}

/**
 * When a token should be refreshed, in ms after it was requested: at `refresh_in` when Entra
 * sends one between 0 and the lifetime; otherwise half way for tokens of two hours or more,
 * and five minutes before expiry (never before half way) for shorter ones. Never sooner than
 * a second (or half a shorter lifetime), never later than the token stops being served.
 */
export function refreshDelay(lifetimeInMs: number, refreshInMs: number | undefined): number {
  const servedFor = lifetimeInMs - safetyMargin(lifetimeInMs);
  if (refreshInMs !== undefined && refreshInMs > 0 && refreshInMs < lifetimeInMs) {
    // Never sooner than a second (or half a shorter lifetime): a tiny refresh_in would
    // otherwise make back-to-back refreshes.
    return Math.min(Math.max(refreshInMs, Math.min(1000, lifetimeInMs / 2)), servedFor);
  }
  const half = lifetimeInMs / 2;
  if (lifetimeInMs >= 2 * 3600_000) return half;
  return Math.min(Math.max(half, lifetimeInMs - 5 * 60_000), servedFor);
}
