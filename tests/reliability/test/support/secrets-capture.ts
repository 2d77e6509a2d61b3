import { inspect } from "node:util";

/**
 * What the reliability suite knows and saw, shared by the setup file (`secrets-setup.ts`, which
 * fills it for every test file of the project) and the tests (which add what they mint): every
 * log line, every error and credential met, and every secret value the tests know.
 */
interface SecretsState {
  /** Captured lines: `@azure/logger` output, stderr and stdout writes, console calls. */
  readonly lines: string[];
  /** Errors, credentials and other objects whose printed forms must hold no secret. */
  readonly seen: Set<unknown>;
  /** Known secret values, by value, with what they are. */
  readonly secrets: Map<string, string>;
}

const STATE = Symbol.for("fedcred.reliability.secrets");

function state(): SecretsState {
  const holder = globalThis as { [STATE]?: SecretsState };
  holder[STATE] ??= { lines: [], seen: new Set(), secrets: new Map() };
  return holder[STATE];
}

/** The most lines kept; a run that logs more keeps the newest (the count says how many were seen). */
const MAX_LINES = 200_000;
let droppedLines = 0;

/** Adds one captured line (the setup file calls it for every log line and stream write). */
export function captureLine(line: string): void {
  const { lines } = state();
  if (lines.length >= MAX_LINES) {
    lines.splice(0, lines.length / 2);
    droppedLines += MAX_LINES / 2;
  }
  lines.push(line);
}

/** Every line captured so far in this test file. */
export function capturedLines(): readonly string[] {
  return state().lines;
}

/** How many lines were captured in this test file, dropped ones included. */
export function capturedLineCount(): number {
  return state().lines.length + droppedLines;
}

/**
 * Records secret values the test knows: assertions it minted, access tokens it received,
 * private keys, passwords. None of them may appear in any captured line or printed form.
 */
export function recordSecret(what: string, ...values: Array<string | undefined>): void {
  for (const value of values) {
    if (typeof value === "string" && value.length >= 8) state().secrets.set(value, what);
  }
}

/** Records errors, credentials and objects whose message, JSON and inspect forms are checked. */
export function recordSeen(...values: unknown[]): void {
  for (const value of values) {
    if (typeof value === "object" && value !== null) state().seen.add(value);
  }
}

/** How many objects were recorded in this test file. */
export function seenCount(): number {
  return state().seen.size;
}

/** Forgets a deliberately planted value and the lines that hold it (the detector's own test). */
export function forget(value: string): void {
  const current = state();
  current.secrets.delete(value);
  for (let i = current.lines.length - 1; i >= 0; i--) {
    if (current.lines[i]?.includes(value)) current.lines.splice(i, 1);
  }
}

/** A leak: where a secret showed, and which. */
export interface Leak {
  where: string;
  what: string;
  /** The text around the leak, with the secret itself cut down to its first 6 characters. */
  excerpt: string;
}

/** A compact JWS whose header and payload are JSON objects: an assertion or an access token. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const WINDOW = 16;

/** The pieces of a secret that must not show: the whole, and for a JWT its payload and signature. */
function piecesOf(secret: string): string[] {
  const pieces = [secret];
  const parts = secret.split(".");
  if (parts.length === 3) pieces.push(...parts.slice(1).filter((part) => part.length >= WINDOW));
  if (secret.includes("PRIVATE KEY-----")) {
    // Any line of the key's base64 body.
    pieces.push(...secret.split("\n").filter((line) => /^[A-Za-z0-9+/=]{40,}$/.test(line)));
  }
  return pieces;
}

function excerpt(text: string, at: number, length: number): string {
  const start = Math.max(0, at - 60);
  return `${text.slice(start, at)}${text.slice(at, at + 6)}...[${length} chars]${text.slice(at + length, at + length + 60)}`;
}

/** The printed forms of an object: message, JSON, util.inspect, and the same for its causes. */
function printedForms(value: unknown): Array<[string, string]> {
  const forms: Array<[string, string]> = [];
  let current: unknown = value;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const label = depth === 0 ? "" : ` (cause ${depth})`;
    if (current instanceof Error) forms.push([`message${label}`, current.message]);
    try {
      forms.push([`JSON.stringify${label}`, JSON.stringify(current) ?? ""]);
    } catch (error) {
      forms.push([`JSON.stringify${label}`, `(throws ${String(error)})`]);
    }
    forms.push([`util.inspect${label}`, inspect(current, { depth: 6 })]);
    const next = (current as { cause?: unknown }).cause;
    if (next === current) break;
    current = next;
  }
  return forms;
}

/**
 * Every leak in what was captured and seen: a known secret (or a piece of one), any JWT, or a
 * PEM private key in a captured line or in the message, `JSON.stringify` or `util.inspect` of a
 * recorded object (and of its causes).
 */
export function findLeaks(): Leak[] {
  const { lines, seen, secrets } = state();
  const texts = new Map<string, string>();
  for (const line of lines) if (!texts.has(line)) texts.set(line, "a captured log line");
  for (const value of seen) {
    const kind =
      value instanceof Error
        ? `an error (${value.name})`
        : `an object (${value?.constructor?.name})`;
    for (const [form, text] of printedForms(value)) {
      if (!texts.has(text)) texts.set(text, `${form} of ${kind}`);
    }
  }
  // Secrets longer than a window are found through their first window, so each text is
  // scanned once whatever the number of secrets; shorter ones (passwords) by a plain search.
  const byWindow = new Map<string, Array<[string, string]>>();
  const short: Array<[string, string]> = [];
  for (const [secret, what] of secrets) {
    for (const piece of piecesOf(secret)) {
      if (piece.length < WINDOW) {
        short.push([piece, what]);
        continue;
      }
      const key = piece.slice(0, WINDOW);
      const list = byWindow.get(key) ?? [];
      list.push([piece, what]);
      byWindow.set(key, list);
    }
  }
  const leaks: Leak[] = [];
  for (const [text, where] of texts) {
    let found: Leak | undefined;
    for (let i = 0; i + WINDOW <= text.length && found === undefined; i++) {
      for (const [piece, what] of byWindow.get(text.slice(i, i + WINDOW)) ?? []) {
        if (text.startsWith(piece, i)) {
          found = { where, what, excerpt: excerpt(text, i, piece.length) };
          break;
        }
      }
    }
    for (const [piece, what] of short) {
      if (found !== undefined) break;
      const at = text.indexOf(piece);
      if (at !== -1) found = { where, what, excerpt: excerpt(text, at, piece.length) };
    }
    if (found === undefined) {
      const jwt = JWT.exec(text);
      if (jwt) found = { where, what: "a JWT", excerpt: excerpt(text, jwt.index, jwt[0].length) };
    }
    if (found === undefined) {
      const key = PRIVATE_KEY.exec(text);
      if (key) {
        found = { where, what: "a PEM private key", excerpt: excerpt(text, key.index, 30) };
      }
    }
    if (found !== undefined) leaks.push(found);
  }
  return leaks;
}

/** Clears what this test file captured, saw and knows (the setup file does it per file). */
export function resetCapture(): void {
  const current = state();
  current.lines.length = 0;
  current.seen.clear();
  current.secrets.clear();
  droppedLines = 0;
}
