import { CredentialUnavailableError } from "./errors.js";

/**
 * Checks a provider's timeout option at its factory: a whole number of milliseconds from 1 to
 * `maxInMs`. The message names the option and shows what was given (a number or a quoted string,
 * else only its type).
 *
 * @param value - The option's value after the default was applied.
 * @param name - How the message names it, such as `options.requestTimeoutInMs`.
 * @param maxInMs - The largest accepted, in ms. Default 2 147 483 647 (what a Node timer holds).
 * @returns `value`, as a number.
 * @throws `CredentialUnavailableError` (`invalid_configuration`) for anything else.
 *
 * @example
 * ```ts
 * import { checkTimeoutInMs } from "@fedcred/core";
 *
 * const timeoutInMs = checkTimeoutInMs(options.timeoutInMs ?? 10_000, "options.timeoutInMs", 300_000);
 * ```
 */
export function checkTimeoutInMs(value: unknown, name: string, maxInMs = 2_147_483_647): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= maxInMs) {
    return value;
  }
  const shown =
    typeof value === "number"
      ? String(value)
      : typeof value === "string"
        ? JSON.stringify(value.slice(0, 40))
        : typeof value;
  throw new CredentialUnavailableError(
    `${name} must be a whole number of milliseconds from 1 to ${maxInMs}, got ${shown}.`,
    "invalid_configuration",
  );
}
