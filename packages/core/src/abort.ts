import { abortReason } from "./errors.js";

/**
 * `work`, or a rejection as soon as `signal` aborts, whichever comes first. The rejection is
 * `reasonOf(signal)`: by default {@link abortReason} (an `AbortError`, or the error the signal
 * was aborted with). `work` keeps running; its own failure is then ignored.
 */
export function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal,
  reasonOf: (signal: AbortSignal) => unknown = abortReason,
): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
