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
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** The base of the exponential backoff. Default 800 ms. */
  retryDelayInMs?: number;
  /** The longest wait between attempts, also the cap on `Retry-After`. Default 60 000 ms. */
  maxRetryDelayInMs?: number;
}

/** Statuses that say "try again": timeout, throttling, and server-side failures. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** The wait a `Retry-After` header asks for, in ms (seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Exponential backoff with jitter (80% to 120%), capped. `attempt` counts from 0. */
export function backoffDelay(attempt: number, baseInMs: number, maxInMs: number): number {
  const exponential = baseInMs * 2 ** attempt;
  const jittered = exponential * (0.8 + Math.random() * 0.4);
  return Math.min(maxInMs, jittered);
}

/** Waits `ms`, or rejects with an `AbortError` as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
