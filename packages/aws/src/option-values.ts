import { CredentialUnavailableError } from "@fedcred/core";

/** The factory's error for an option it cannot use. */
export function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/**
 * Whether `value` is a plain object (`{}`, `Object.create(null)`, JSON), from any realm: not an
 * array, a `Map` or a class instance, whose entries `Object.entries` would not see as given.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}
