import { type OutputStream, type Style, styleFor } from "./style.js";

/**
 * The streams a command reads and writes. The defaults are the process's own.
 *
 * @example
 * ```ts
 * import type { CliStreams } from "@fedcred/cli";
 *
 * const lines: string[] = [];
 * const streams: Partial<CliStreams> = { stdout: { write: (chunk: string) => lines.push(chunk) } };
 * ```
 */
export interface CliStreams {
  /** Results: the token, the table, the JSON. Colour only when `isTTY` (or `FORCE_COLOR`). */
  stdout: OutputStream;
  /** Progress, errors and hints. Colour only when `isTTY` (or `FORCE_COLOR`). */
  stderr: OutputStream;
  /** What `fedcred inspect -` reads. */
  stdin: NodeJS.ReadableStream;
}

/** What a command runs with: its streams, their styles, and the environment. */
export interface CommandContext extends CliStreams {
  env: NodeJS.ProcessEnv;
  out: Style;
  err: Style;
}

/** One `fedcred` command. */
export interface Command {
  name: string;
  /** The whole `--help` text, examples included. */
  help: string;
  /** Runs the command; resolves to the exit code. Throws `UsageError` for a wrong command line. */
  run(args: readonly string[], context: CommandContext): Promise<number>;
}

export function createContext(
  streams: Partial<CliStreams>,
  env: NodeJS.ProcessEnv,
): CommandContext {
  const stdout = streams.stdout ?? process.stdout;
  const stderr = streams.stderr ?? process.stderr;
  return {
    stdout,
    stderr,
    stdin: streams.stdin ?? process.stdin,
    env,
    out: styleFor(stdout, env),
    err: styleFor(stderr, env),
  };
}

/** Writes a line (or lines) to a stream. */
export function writeLine(stream: OutputStream, text = ""): void {
  stream.write(`${text}\n`);
}
