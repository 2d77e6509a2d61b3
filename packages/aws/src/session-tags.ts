import { invalid, isPlainObject } from "./option-values.js";

const MAX_TAGS = 50;
const MAX_KEY_LENGTH = 128;
const MAX_VALUE_LENGTH = 256;
/** What AWS session tags may hold: Unicode letters, digits, spaces, and `_ . : / = + - @`. */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const RULES = `keys have 1 to ${MAX_KEY_LENGTH} characters and values 0 to ${MAX_VALUE_LENGTH}, strings of letters, digits, spaces and _ . : / = + - @`;

/** `options.tags` as `GetWebIdentityToken`'s `Tags`, checked as STS checks session tags. */
export function checkTags(tags: unknown): { Key: string; Value: string }[] {
  if (tags === undefined) return [];
  if (!isPlainObject(tags)) {
    throw invalid(
      'options.tags must be a plain object of tag keys and values, such as { team: "billing" } (not a Map or an array).',
    );
  }
  const entries: [string, unknown][] = Object.entries(tags);
  if (entries.length > MAX_TAGS) {
    throw invalid(`options.tags may hold at most ${MAX_TAGS} tags, got ${entries.length}.`);
  }
  const byLowerCase = new Map<string, string>();
  for (const [key, value] of entries) {
    const name = `options.tags[${JSON.stringify(key)}]`;
    if (
      key.length < 1 ||
      key.length > MAX_KEY_LENGTH ||
      !TAG_CHARACTERS.test(key) ||
      typeof value !== "string" ||
      value.length > MAX_VALUE_LENGTH ||
      !TAG_CHARACTERS.test(value)
    ) {
      throw invalid(`${name} is not a valid tag: ${RULES}.`);
    }
    if (key.toLowerCase().startsWith("aws:")) {
      throw invalid(`${name}: tag keys may not start with "aws:", which AWS keeps for itself.`);
    }
    const same = byLowerCase.get(key.toLowerCase());
    if (same !== undefined) {
      throw invalid(
        `${name} and options.tags[${JSON.stringify(same)}] differ only in letter case: AWS takes session tag keys without regard to case, so keep one.`,
      );
    }
    byLowerCase.set(key.toLowerCase(), key);
  }
  return entries.map(([Key, Value]) => ({ Key, Value: Value as string }));
}
