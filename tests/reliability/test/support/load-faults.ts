import type { EntraEmulator, Fault } from "@fedcred/emulator";

/** The transient failures a token request may meet: throttling, outages, a dropped connection. */
export const TRANSIENT_FAULTS: readonly Fault[] = [
  { kind: "status", status: 429 },
  { kind: "status", status: 500 },
  { kind: "status", status: 502 },
  { kind: "status", status: 503 },
  { kind: "status", status: 504 },
  { kind: "drop" },
];

/** A fault that plays nothing: the request is answered normally. */
const PASS: Fault = { kind: "delay" };

/** What {@link queueFaultRate} queued. */
export interface QueuedFaultRate {
  /** How many of the next requests fail. */
  failures: number;
  /** How many next requests the pattern covers; later ones are answered normally. */
  requests: number;
}

/**
 * Queues on Entra's token endpoint a failure for each of the next `requests` token requests
 * with probability `rate` (drawn with `random`, a fault from {@link TRANSIENT_FAULTS}), through
 * the emulator's own fault queue: a run of passing requests is one queued no-op fault.
 */
export function queueFaultRate(
  entra: EntraEmulator,
  options: { rate: number; requests: number; random: () => number },
): QueuedFaultRate {
  let failures = 0;
  let passes = 0;
  for (let i = 0; i < options.requests; i++) {
    if (options.random() >= options.rate) {
      passes++;
      continue;
    }
    if (passes > 0) entra.injectFault(PASS, { count: passes });
    passes = 0;
    const fault =
      TRANSIENT_FAULTS[Math.floor(options.random() * TRANSIENT_FAULTS.length)] ??
      (TRANSIENT_FAULTS[0] as Fault);
    entra.injectFault(fault);
    failures++;
  }
  if (passes > 0) entra.injectFault(PASS, { count: passes });
  return { failures, requests: options.requests };
}
