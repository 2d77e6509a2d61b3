import { invalidConfiguration } from "./errors.js";

/** Checks the scopes of a `getToken` call and returns them as a list. */
export function checkScopes(scopes: string | readonly string[]): readonly string[] {
  const list = typeof scopes === "string" ? [scopes] : scopes;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidConfiguration(
      'getToken needs at least one scope, such as "https://storage.azure.com/.default".',
    );
  }
  for (const scope of list) {
    if (typeof scope !== "string" || scope.length === 0) {
      throw invalidConfiguration(
        'A scope is empty: pass scopes such as "https://storage.azure.com/.default".',
      );
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (/[\s\u0000-\u001f\u007f]/.test(scope)) {
      throw invalidConfiguration(
        `The scope ${JSON.stringify(scope)} holds whitespace or control characters: pass each scope as its own array element.`,
      );
    }
  }
  return list;
}

/** The part of the cache key that names the scopes: one scope as is, several sorted. */
export function scopesKey(scopes: string | readonly string[]): string {
  if (typeof scopes === "string") return scopes;
  if (scopes.length === 1) return scopes[0]!;
  return [...scopes].sort().join(" ");
}
