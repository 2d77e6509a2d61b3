/** Text styles for one output stream: each is the identity when that stream gets no colour. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * An output stream as the command sees it: `process.stdout` fits, and so does anything with
 * `write`. Without `isTTY: true` it gets no colour (unless `FORCE_COLOR`) and no spinner.
 *
 * @example
 * ```ts
 * import type { OutputStream } from "@fedcred/cli";
 *
 * let text = "";
 * const capture: OutputStream = { write: (chunk: string) => (text += chunk) };
 * ```
 */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean | undefined;
}

/**
 * Whether `stream` gets colour, as Node decides for its own output: `FORCE_COLOR` (anything but
 * `0` or `false`) turns it on and beats `NO_COLOR`; otherwise only a TTY that is not `TERM=dumb`
 * gets it, and `NO_COLOR` (any non-empty value) turns it off.
 */
export function wantsColor(stream: OutputStream, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  if (env.NO_COLOR) return false;
  return stream.isTTY === true && env.TERM !== "dumb";
}

// Plain SGR codes rather than util.styleText: on Node 20 its stream check depends on the patch
// release (20.19 has none, 20.20 skips it for arrays of formats), and the decision is made above.
function sgr(open: number, close: number): (text: string) => string {
  return (text) => `\u001b[${open}m${text}\u001b[${close}m`;
}

const identity = (text: string): string => text;

/** The styles for `stream`. */
export function styleFor(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): Style {
  if (!wantsColor(stream, env)) {
    return {
      enabled: false,
      bold: identity,
      dim: identity,
      red: identity,
      green: identity,
      yellow: identity,
      cyan: identity,
    };
  }
  return {
    enabled: true,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
  };
}

/** The visible width of text that may hold SGR codes. */
export function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SGR codes start with ESC.
  return text.replace(/\u001b\[[0-9;]*m/g, "").length;
}
