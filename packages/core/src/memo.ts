import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { tryDecodeJwtPayload } from "./jwt.js";

/**
 * Options of {@link memoizeAssertion}.
 *
 * @example
 * ```ts
 * import type { MemoizeAssertionOptions } from "@fedcred/core";
 *
 * const options: MemoizeAssertionOptions = { refreshMarginInMs: 120_000 };
 * ```
 */
export interface MemoizeAssertionOptions {
  /**
   * Fetch a new assertion this long before the memoized one's `exp`. Default 5 minutes, but
   * never more than a fifth of the assertion's lifetime (`exp - iat`).
   */
  refreshMarginInMs?: number;
}

/**
 * Keeps the assertion a costly source returns (a TokenRequest, an STS call) until a margin
 * before its `exp`, and shares one in-flight fetch among concurrent callers. An assertion
 * without `exp` is not kept. `context.forceRefresh` (Entra said the last one expired) fetches
 * anew.
 *
 * @example
 * ```ts
 * import { memoizeAssertion } from "@fedcred/core";
 *
 * export function fromMyPlatform(): AssertionFunc {
 *   return memoizeAssertion(async (context) => fetchTokenFromPlatform(context.abortSignal));
 * }
 * ```
 */
export function memoizeAssertion(
  fetchAssertion: (context: AssertionContext) => string | Promise<string>,
  options: MemoizeAssertionOptions = {},
): AssertionFunc {
  const margin = options.refreshMarginInMs ?? 5 * 60_000;
  let memo: { assertion: string; freshUntil: number } | undefined;
  let inFlight: Promise<string> | undefined;
  return (context) => {
    if (!context?.forceRefresh && memo !== undefined && Date.now() < memo.freshUntil) {
      return memo.assertion;
    }
    if (context?.forceRefresh) memo = undefined;
    if (inFlight !== undefined) return inFlight;
    const pending = Promise.resolve()
      .then(() => fetchAssertion(context))
      .then((assertion) => {
        const claims = typeof assertion === "string" ? tryDecodeJwtPayload(assertion) : undefined;
        if (claims !== undefined && typeof claims.exp === "number") {
          const expiresAt = claims.exp * 1000;
          const lifetime =
            typeof claims.iat === "number" ? expiresAt - claims.iat * 1000 : Infinity;
          memo = { assertion, freshUntil: expiresAt - Math.min(margin, lifetime / 5) };
        } else {
          memo = undefined;
        }
        return assertion;
      })
      .finally(() => {
        if (inFlight === pending) inFlight = undefined;
      });
    inFlight = pending;
    return pending;
  };
}
