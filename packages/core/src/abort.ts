import { abortReason } from "./errors.js";

/**
 * `work`, or a rejection as soon as `signal` aborts, whichever comes first. The rejection is
 * `reasonOf(signal)`: by default an `AbortError`, or the error the signal was aborted with.
 * `onAbort` runs when the caller stops waiting because of the signal (a shared request counts
 * its waiters with it). `work` keeps running; its own failure is then ignored. Providers use it
 * to hold a deadline over SDK calls that cannot be cancelled (a credential plugin, a provider).
 *
 * @example
 * ```ts
 * import { raceAbort } from "@fedcred/core";
 *
 * const deadline = AbortSignal.timeout(30_000);
 * const token = await raceAbort(sdk.fetchToken(), deadline);
 * ```
 */
export function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal,
  reasonOf: (signal: AbortSignal) => unknown = abortReason,
  onAbort?: () => void,
): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) {
    onAbort?.();
    return Promise.reject(reasonOf(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => {
      onAbort?.();
      reject(reasonOf(signal));
    };
    signal.addEventListener("abort", aborted, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", aborted);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", aborted);
        reject(error);
      },
    );
  });
}
