import { abortReason } from "./errors.js";

/**
 * How the credential retries throttled, failed and unanswered token requests.
 *
 * @example
 * ```ts
 * import type { RetryOptions } from "@fedcred/core";
 *
 * const retryOptions: RetryOptions = { maxRetries: 5, retryDelayInMs: 500, maxRetryDelayInMs: 10_000 };
 * ```
 */
export interface RetryOptions {
  /** Retries after the first attempt: an integer from 0 to 100. Default 3. */
  maxRetries?: number;
  /** The base of the exponential backoff, in ms: 0 to 2 147 483 647. Default 800 ms. */
  retryDelayInMs?: number;
  /**
   * The longest wait between attempts, in ms (0 to 2 147 483 647), also the cap on a
   * `Retry-After` wait between attempts. Default 60 000 ms.
   */
  maxRetryDelayInMs?: number;
}

/** Statuses that say "try again": timeout, throttling, and server-side failures. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/**
 * The wait a `Retry-After` header asks for, in ms (seconds or an HTTP date), capped at an hour;
 * undefined when there is none, or when it asks for less than a second (`0`, a past date), which
 * would make no pause at all.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  let wait: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    wait = Number(trimmed) * 1000;
  } else {
    const date = Date.parse(trimmed);
    if (Number.isNaN(date)) return undefined;
    wait = date - now;
  }
  return wait < 1000 ? undefined : Math.min(wait, MAX_RETRY_AFTER_MS);
}

/** The longest `Retry-After` honoured: one hour, as MSAL caps it. */
export const MAX_RETRY_AFTER_MS = 3600_000;

/** Exponential backoff with jitter (80% to 120%), capped. `attempt` counts from 0. */
export function backoffDelay(attempt: number, baseInMs: number, maxInMs: number): number {
  const exponential = baseInMs * 2 ** attempt;
  const jittered = exponential * (0.8 + Math.random() * 0.4);
  return Math.min(maxInMs, jittered);
}

/** The longest delay a Node timer can hold (2^31 - 1 ms); longer ones fire at once. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Waits `ms`, or rejects with an `AbortError` as soon as `signal` aborts. With `unref` the
 * timer does not keep the process alive (background work).
 */
export function sleep(ms: number, signal: AbortSignal, unref = false): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.min(ms, MAX_TIMER_DELAY_MS),
    );
    if (unref) timer.unref();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
