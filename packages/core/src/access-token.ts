import { inspect } from "node:util";
import type { AccessToken } from "@azure/core-auth";

function printable(this: AccessToken): Record<string, unknown> {
  return {
    token: "[redacted]",
    expiresOnTimestamp: this.expiresOnTimestamp,
    refreshAfterTimestamp: this.refreshAfterTimestamp,
    tokenType: this.tokenType,
  };
}

/**
 * An `AccessToken` whose `token` reads as usual but is not enumerable, so `JSON.stringify`,
 * `util.inspect` and loggers that print the object never show it.
 */
export function createAccessToken(
  token: string,
  expiresOnTimestamp: number,
  refreshAfterTimestamp: number,
): AccessToken {
  const accessToken = { expiresOnTimestamp, refreshAfterTimestamp, tokenType: "Bearer" as const };
  Object.defineProperty(accessToken, "token", { value: token, enumerable: false });
  Object.defineProperty(accessToken, inspect.custom, { value: printable, enumerable: false });
  return accessToken as AccessToken;
}

/**
 * When a token should be refreshed: at `refresh_in` when Entra sends it; otherwise half way for
 * tokens of two hours or more, and five minutes before expiry (never before half way) for
 * shorter ones.
 */
export function refreshAfter(
  now: number,
  expiresInSeconds: number,
  refreshInSeconds?: number,
): number {
  const lifetime = expiresInSeconds * 1000;
  if (refreshInSeconds !== undefined && refreshInSeconds * 1000 < lifetime) {
    return now + refreshInSeconds * 1000;
  }
  const half = now + lifetime / 2;
  if (lifetime >= 2 * 3600_000) return half;
  return Math.max(half, now + lifetime - 5 * 60_000);
}
