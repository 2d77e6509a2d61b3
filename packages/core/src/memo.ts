import { raceAbort } from "./abort.js";
import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { abortError, abortReason } from "./errors.js";
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
 * What a costly source may return to {@link memoizeAssertion} instead of a bare assertion: when
 * it expires and, optionally, when to fetch the next one, as the source itself said (such as a
 * Kubernetes TokenRequest's granted `expirationTimestamp`), rather than as the JWT's claims say.
 *
 * @example
 * ```ts
 * import type { MemoizedAssertion } from "@fedcred/core";
 *
 * const issuedAt = Date.now();
 * const expiresOnTimestamp = issuedAt + 3_600_000;
 * const memoized: MemoizedAssertion = {
 *   assertion: jwt,
 *   expiresOnTimestamp,
 *   refreshAfterTimestamp: issuedAt + 0.8 * (expiresOnTimestamp - issuedAt),
 * };
 * ```
 */
export interface MemoizedAssertion {
  /** The client assertion (a JWT). */
  assertion: string;
  /** When it expires, in ms since the epoch. */
  expiresOnTimestamp: number;
  /**
   * When to fetch the next one, in ms since the epoch. Default: `refreshMarginInMs` before
   * `expiresOnTimestamp`. Never later than `expiresOnTimestamp`.
   */
  refreshAfterTimestamp?: number;
}

/**
 * Keeps the assertion a costly source returns (a TokenRequest, an STS call) until a margin
 * before its `exp`, and shares one in-flight fetch among concurrent callers. An assertion
 * without `exp` is not kept. A source that knows better than the claims returns a
 * {@link MemoizedAssertion}: its `expiresOnTimestamp` and `refreshAfterTimestamp` win.
 * `context.forceRefresh` (Entra said the last one expired) fetches anew.
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
  fetchAssertion: (
    context: AssertionContext,
  ) => string | MemoizedAssertion | Promise<string | MemoizedAssertion>,
  options: MemoizeAssertionOptions = {},
): AssertionFunc {
  const margin = options.refreshMarginInMs ?? 5 * 60_000;
  let memo: { assertion: string; freshUntil: number } | undefined;
  let inFlight: Shared | undefined;
  const start = (context: AssertionContext): Shared => {
    // The shared fetch has its own signal: it is aborted only when every caller waiting for it
    // has aborted, so one caller's abort never fails another's token request.
    const controller = new AbortController();
    const shared: Shared = { promise: Promise.resolve(""), controller, waiters: 0 };
    shared.promise = Promise.resolve()
      .then(() => fetchAssertion({ ...context, abortSignal: controller.signal }))
      .then((result) => {
        memo = memoOf(result, margin);
        return typeof result === "object" && result !== null ? result.assertion : result;
      })
      .finally(() => {
        if (inFlight === shared) inFlight = undefined;
      });
    shared.promise.catch(() => {});
    return shared;
  };
  return (context) => {
    if (!context?.forceRefresh && memo !== undefined && Date.now() < memo.freshUntil) {
      return memo.assertion;
    }
    if (context?.forceRefresh) memo = undefined;
    if (inFlight === undefined || inFlight.controller.signal.aborted) inFlight = start(context);
    return join(inFlight, context?.abortSignal, () => {
      if (inFlight?.controller.signal.aborted) inFlight = undefined;
    });
  };
}

/** How long a fetched assertion is kept: what the source said, else what its claims say. */
function memoOf(
  result: string | MemoizedAssertion,
  margin: number,
): { assertion: string; freshUntil: number } | undefined {
  if (typeof result === "object" && result !== null) {
    const { assertion, expiresOnTimestamp, refreshAfterTimestamp } = result;
    if (typeof assertion !== "string" || !Number.isFinite(expiresOnTimestamp)) return undefined;
    const freshUntil =
      typeof refreshAfterTimestamp === "number" && Number.isFinite(refreshAfterTimestamp)
        ? Math.min(refreshAfterTimestamp, expiresOnTimestamp)
        : expiresOnTimestamp - margin;
    return { assertion, freshUntil };
  }
  const claims = typeof result === "string" ? tryDecodeJwtPayload(result) : undefined;
  if (claims === undefined || typeof claims.exp !== "number") return undefined;
  const expiresAt = claims.exp * 1000;
  const lifetime = typeof claims.iat === "number" ? expiresAt - claims.iat * 1000 : Infinity;
  return { assertion: result, freshUntil: expiresAt - Math.min(margin, lifetime / 5) };
}

interface Shared {
  promise: Promise<string>;
  readonly controller: AbortController;
  waiters: number;
}

/** Waits for the shared fetch; a caller whose signal aborts stops waiting, and the last one aborts the fetch. */
function join(
  shared: Shared,
  signal: AbortSignal | undefined,
  onAbandoned: () => void,
): Promise<string> {
  shared.waiters++;
  if (signal === undefined) return shared.promise;
  return raceAbort(shared.promise, signal, abortReason, () => leave(shared, onAbandoned));
}

function leave(shared: Shared, onAbandoned: () => void): void {
  shared.waiters--;
  if (shared.waiters === 0) {
    shared.controller.abort(abortError());
    onAbandoned();
  }
}
