/** `1 attempt`, `2 attempts`: a count with its noun. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** What kind of value `value` is, for a message that must not quote it: `a number`, `null`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (undefined)";
  if (value === null) return "null";
  if (typeof value === "string") return value.trim() === "" ? "an empty string" : "a string";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * What a thrown value says, for a message: an error's message, else the value as a string, else
 * (a value with no string form, such as an object without a prototype) what kind of value it is.
 */
export function thrownMessage(value: unknown): string {
  if (value instanceof Error && typeof value.message === "string") return value.message;
  try {
    return String(value);
  } catch {
    return `${describeValue(value)} that has no string form`;
  }
}
