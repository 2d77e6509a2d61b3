import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./usage-error.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The options every command takes. */
export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
} as const;

/**
 * `parseArgs` in strict mode, its errors turned into {@link UsageError}s: unknown options, a
 * missing value, a value given to a flag, and positionals beyond `maxPositionals`.
 */
export function parseCommandLine<const T extends Options>(
  args: readonly string[],
  options: T,
  maxPositionals = 0,
): ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>> {
  let parsed: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // Node's text goes on about positionals after `--`, which no command here takes.
    throw new UsageError(
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? `${message.split(". ")[0] ?? message}.` : message,
    );
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals.slice(maxPositionals).map((value) => JSON.stringify(value));
    throw new UsageError(`Unexpected argument${extra.length > 1 ? "s" : ""}: ${extra.join(" ")}.`);
  }
  return parsed;
}
