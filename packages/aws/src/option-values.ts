import { CredentialUnavailableError } from "@fedcred/core";

/** The factory's error for an option it cannot use. */
export function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/**
 * Whether `value` is a plain object (`{}`, `Object.create(null)`, JSON), from any realm: not an
 * array, a `Map` or a class instance, whose entries `Object.entries` would not see as given.
 */
export function isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/** An option's value for a message: strings quoted, bigints named, objects by their kind. */
export function shown(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}...` : value);
  }
  if (typeof value === "bigint") return `${value}n (a bigint)`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return typeof value === "function" || typeof value === "symbol"
    ? `a ${typeof value}`
    : String(value);
}
