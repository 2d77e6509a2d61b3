/** A mistake in how the command was called: exit code 2, with a pointer to `--help`. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The exit codes of every command. */
export const EXIT = {
  /** Done: the token was printed, every check passed, every demo row worked. */
  ok: 0,
  /** A request, check or decode failed. */
  failed: 1,
  /** The command line was wrong: an unknown option, a missing value. */
  usage: 2,
} as const;
