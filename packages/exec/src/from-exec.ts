import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import {
  type AssertionContext,
  type AssertionFunc,
  AuthenticationError,
  CredentialUnavailableError,
  checkTimeoutInMs,
  decodeJwtPayload,
  type MemoizedAssertion,
  memoizeAssertion,
} from "@fedcred/core";

/**
 * The environment variable that must be `1`, when a token is fetched, for {@link fromExec} to run
 * its program.
 *
 * @example
 * ```ts
 * import { FEDCRED_ALLOW_EXECUTABLES } from "@fedcred/exec";
 *
 * if (process.env[FEDCRED_ALLOW_EXECUTABLES] !== "1") console.warn("fromExec will not run");
 * ```
 */
export const FEDCRED_ALLOW_EXECUTABLES = "FEDCRED_ALLOW_EXECUTABLES";

/**
 * Options of {@link fromExec}.
 *
 * @example
 * ```ts
 * import type { FromExecOptions } from "@fedcred/exec";
 *
 * const options: FromExecOptions = {
 *   command: "/usr/local/bin/get-oidc-token",
 *   args: ["--audience", "api://AzureADTokenExchange"],
 *   timeoutInMs: 10_000,
 * };
 * ```
 */
export interface FromExecOptions {
  /** The program: a path, or a name looked up on `PATH`. Run directly, never through a shell. */
  command: string;
  /** Its arguments, each passed as is (no shell quoting, no globbing). Default none. */
  args?: readonly string[];
  /** How long the program may run, in milliseconds: 1 to 600 000. Default 30 000. Then it is killed. */
  timeoutInMs?: number;
  /** The program's working directory. Default: this process's. */
  cwd?: string;
  /**
   * Put the program's stderr (its first 4 KiB) into the errors of failed runs. Default `false`:
   * a program may print secrets on stderr, and errors end up in logs.
   */
  includeStderrInErrors?: boolean;
}

/** What the program prints on stdout, the executable-sourced credential format. */
interface ExecutableResponse {
  version?: unknown;
  success?: unknown;
  token_type?: unknown;
  id_token?: unknown;
  token?: unknown;
  expiration_time?: unknown;
  code?: unknown;
  message?: unknown;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 600_000;
/** A token response is a few KiB: a program printing more is not printing a token. */
const MAX_STDOUT_BYTES = 64 * 1024;
const MAX_STDERR_BYTES = 4 * 1024;
/** How long the pipes are still read after the program exits, when something it started holds them. */
const EXIT_PIPE_GRACE_MS = 500;
/** How long a program has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 2_000;
const MAX_PROGRAM_TEXT = 300;
const TOKEN_TYPES = [
  "urn:ietf:params:oauth:token-type:jwt",
  "urn:ietf:params:oauth:token-type:id_token",
];
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Refresh this long before `expiration_time`, at most a fifth of the remaining lifetime. */
const REFRESH_MARGIN_MS = 5 * 60_000;

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}

/** Text a program wrote, made safe for one line of an error: no control characters, bounded. */
function programText(value: unknown): string {
  // Only scalars are quoted: String() of a deeply nested array (a hostile program's "code")
  // recurses until the stack overflows.
  const scalar =
    typeof value === "string" || typeof value === "number" || typeof value === "boolean"
      ? String(value)
      : value === null
        ? "null"
        : `(a JSON ${Array.isArray(value) ? "array" : "object"})`;
  const text = Array.from(scalar, (character) => {
    const code = character.charCodeAt(0);
    return code < 0x20 || code === 0x7f ? " " : character;
  })
    .join("")
    .replace(/ {2,}/g, " ")
    .trim();
  return text.length > MAX_PROGRAM_TEXT ? `${text.slice(0, MAX_PROGRAM_TEXT)}...` : text;
}

interface RunOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Kills the program and everything it started: its process group on POSIX. */
function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === "win32") child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Node's spawn error without its spawnargs (the arguments may hold a key): code, syscall, path. */
function spawnFailure(error: NodeJS.ErrnoException): Error {
  const safe: NodeJS.ErrnoException = new Error(
    error.code === undefined ? "spawn failed" : `spawn ${error.code}`,
  );
  if (error.code !== undefined) safe.code = error.code;
  if (error.errno !== undefined) safe.errno = error.errno;
  if (error.syscall !== undefined) safe.syscall = error.syscall.split(" ")[0];
  return safe;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function run(
  command: string,
  args: readonly string[],
  options: {
    timeoutInMs: number;
    cwd: string | undefined;
    signal: AbortSignal | undefined;
    display: string;
  },
): Promise<RunOutcome> {
  const { timeoutInMs, display, signal } = options;
  return new Promise<RunOutcome>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(command, [...args], {
        cwd: options.cwd,
        stdio: ["ignore", "pipe", "pipe"],
        shell: false,
        windowsHide: true,
        // Its own process group, so a timeout or an abort kills what it started too.
        detached: process.platform !== "win32",
      });
    } catch (error) {
      reject(
        new CredentialUnavailableError(
          `The program ${display} cannot be started: ${(error as Error).message}`,
          "assertion_unavailable",
          { cause: spawnFailure(error as NodeJS.ErrnoException) },
        ),
      );
      return;
    }
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (error: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      killTree(child, "SIGTERM");
      killTimer = setTimeout(() => killTree(child, "SIGKILL"), KILL_GRACE_MS);
      // What it started may hold the pipes open: stop reading them.
      child.stdout?.destroy();
      child.stderr?.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        stop(
          new CredentialUnavailableError(
            `The program ${display} did not finish within ${timeoutInMs} ms and was killed: check what it waits for, or raise options.timeoutInMs.`,
            "assertion_unavailable",
          ),
        ),
      timeoutInMs,
    );
    const onAbort = (): void => {
      const error = new Error("The operation was aborted.");
      error.name = "AbortError";
      const reason: unknown = signal?.reason;
      stop(reason instanceof Error && reason.name !== "TimeoutError" ? reason : error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    function cleanup(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }

    child.stdout?.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        stop(
          new AuthenticationError(
            `The program ${display} printed more than 64 KiB on stdout and was killed: it must print one JSON response.`,
            "assertion_failed",
          ),
        );
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES)
        stderr.push(chunk.subarray(0, MAX_STDERR_BYTES - stderrBytes));
      stderrBytes += chunk.length;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      cleanup();
      const missing = error.code === "ENOENT" || error.code === "EACCES";
      // Node reports a working directory that does not exist as the program's ENOENT.
      const badCwd = missing && options.cwd !== undefined && !isDirectory(options.cwd);
      reject(
        new CredentialUnavailableError(
          badCwd
            ? `The program ${display} cannot be run: its working directory ${JSON.stringify(options.cwd)} (options.cwd) is not a directory.`
            : missing
              ? `The program ${display} cannot be run (${error.code}): check options.command, that it is installed and executable, and PATH.`
              : `The program ${display} failed to start: ${error.message}`,
          "assertion_unavailable",
          // Not Node's error itself: its spawnargs hold the arguments, which may hold a key.
          { cause: spawnFailure(error) },
        ),
      );
    });
    let exitGrace: NodeJS.Timeout | undefined;
    const finish = (exitCode: number | null, exitSignal: NodeJS.Signals | null): void => {
      clearTimeout(exitGrace);
      if (settled) return;
      settled = true;
      cleanup();
      // What it left running may hold the pipes open: stop reading them.
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode,
        signal: exitSignal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    };
    // The program ended, but something it started in the background (an agent, a daemon) may
    // still hold its stdout: what it printed is read a moment after it exits, not at the timeout.
    child.on("exit", (exitCode, exitSignal) => {
      if (settled) return;
      exitGrace = setTimeout(
        // setImmediate: after the event loop's next poll for I/O, so what is already in the
        // pipe is read even when a blocked loop fires this timer late.
        () => setImmediate(() => finish(exitCode, exitSignal)),
        EXIT_PIPE_GRACE_MS,
      );
      exitGrace.unref();
    });
    child.on("close", (exitCode, exitSignal) => {
      if (killTimer !== undefined) {
        // Killed: whatever it started and that ignored SIGTERM goes now.
        clearTimeout(killTimer);
        killTree(child, "SIGKILL");
      }
      finish(exitCode, exitSignal);
    });
  });
}

/** Checks the program's response and returns its token, with when it expires when it said. */
function readResponse(
  outcome: RunOutcome,
  display: string,
  stderrNote: string,
): string | MemoizedAssertion {
  const failed = (message: string): AuthenticationError =>
    new AuthenticationError(`${message}${stderrNote}`, "assertion_failed");
  let response: ExecutableResponse | undefined;
  const text = outcome.stdout.trim();
  if (text !== "") {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        response = parsed as ExecutableResponse;
      }
    } catch {
      // Reported below, with the exit code when it failed.
    }
  }
  if (response?.success === false) {
    const code = response.code === undefined ? "" : ` ${programText(response.code)}`;
    const message = response.message === undefined ? "" : `: ${programText(response.message)}`;
    throw failed(`The program ${display} reported failure${code}${message}.`);
  }
  if (outcome.exitCode !== 0) {
    const how =
      outcome.exitCode === null
        ? `was killed by ${outcome.signal ?? "a signal"}`
        : `exited with code ${outcome.exitCode}`;
    throw failed(`The program ${display} ${how}.`);
  }
  if (response === undefined) {
    throw failed(
      `The program ${display} did not print a JSON object on stdout: it must print {"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":"...","expiration_time":...}.`,
    );
  }
  if (response.version !== undefined && response.version !== 1) {
    throw failed(
      `The program ${display} printed version ${programText(response.version)}; only version 1 is understood.`,
    );
  }
  if (response.token_type !== undefined && !TOKEN_TYPES.includes(response.token_type as string)) {
    throw failed(
      `The program ${display} printed token_type ${programText(response.token_type)}; Entra takes a JWT: ${TOKEN_TYPES.join(" or ")}.`,
    );
  }
  const token = response.id_token ?? response.token;
  if (typeof token !== "string" || !JWT_SHAPE.test(token.trim())) {
    throw failed(`The program ${display} printed no JWT in id_token (or token).`);
  }
  const assertion = token.trim();
  let expirationTime = response.expiration_time;
  if (
    expirationTime !== undefined &&
    (typeof expirationTime !== "number" || !Number.isFinite(expirationTime))
  ) {
    throw failed(
      `The program ${display} printed an expiration_time that is not a number of seconds since the epoch.`,
    );
  }
  let jwtExp: number | undefined;
  try {
    const exp = decodeJwtPayload(assertion).exp;
    if (typeof exp === "number" && Number.isFinite(exp)) jwtExp = exp;
  } catch {
    if (expirationTime === undefined) {
      throw failed(`The program ${display} printed an id_token whose payload is not JSON.`);
    }
  }
  // The token is never kept past its own exp: an expiration_time later than it (one in
  // milliseconds, a helper's guess) would send Entra an expired assertion.
  if (expirationTime === undefined || (jwtExp !== undefined && jwtExp < expirationTime)) {
    expirationTime = jwtExp;
  }
  if (typeof expirationTime !== "number") return assertion;
  const expiresOnTimestamp = expirationTime * 1000;
  const now = Date.now();
  if (expiresOnTimestamp <= now) {
    throw new CredentialUnavailableError(
      `The program ${display} printed a token that expired at ${new Date(expiresOnTimestamp).toISOString()}.`,
      "assertion_expired",
    );
  }
  return {
    assertion,
    expiresOnTimestamp,
    refreshAfterTimestamp:
      expiresOnTimestamp - Math.min(REFRESH_MARGIN_MS, (expiresOnTimestamp - now) / 5),
  };
}

/**
 * An assertion printed by any program: for a platform nobody packaged yet, a vault's CLI, a
 * company's token helper. The program prints one JSON object on stdout, in the format of Google's
 * executable-sourced credentials (AIP-4117):
 *
 * ```json
 * { "version": 1, "success": true, "token_type": "urn:ietf:params:oauth:token-type:jwt",
 *   "id_token": "eyJ...", "expiration_time": 1767225600 }
 * ```
 *
 * `token_type` may also be `urn:ietf:params:oauth:token-type:id_token`; `version`, `success` and
 * `token_type` may be left out, and `token` may stand for `id_token`. `expiration_time` (seconds
 * since the epoch; default the JWT's `exp`) says how long the token is kept: until 5 minutes
 * before it, at most a fifth of its remaining lifetime, so the program runs once per token, not
 * once per token request. A failure is `{ "version": 1, "success": false, "code": "...",
 * "message": "..." }` with a nonzero exit code.
 *
 * The program runs only when `FEDCRED_ALLOW_EXECUTABLES=1` is in this process's environment when
 * a token is fetched (running programs is opt-in, as Google's `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES`),
 * without a shell, with stdin closed, in its own process group. It is killed with everything
 * it started (SIGTERM, then SIGKILL after 2 s) on timeout, on abort, or when it prints more than
 * 64 KiB; nothing is left running or holding the event loop. Its stderr stays out of errors
 * unless `includeStderrInErrors` is set. On Windows `.cmd` and `.bat` files need `cmd.exe` as the
 * command.
 *
 * @throws {@link CredentialUnavailableError} (`invalid_configuration`) at once for an option it
 *   cannot use. Calls reject with `CredentialUnavailableError`: `missing_configuration` without
 *   `FEDCRED_ALLOW_EXECUTABLES=1`, `assertion_unavailable` when the program cannot be run or
 *   times out, `assertion_expired` for an expired token; and with `AuthenticationError`
 *   (`assertion_failed`) when it exits nonzero, reports `success: false` (its code and message are
 *   quoted), prints more than 64 KiB or anything but a JWT in the format above.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromExec } from "@fedcred/exec";
 *
 * // FEDCRED_ALLOW_EXECUTABLES=1 must be set in the environment.
 * const credential = new ClientAssertionCredential(tenantId, clientId, fromExec({
 *   command: "/usr/local/bin/get-oidc-token",
 *   args: ["--audience", "api://AzureADTokenExchange"],
 * }));
 * ```
 */
export function fromExec(options: FromExecOptions): AssertionFunc {
  if (typeof options !== "object" || options === null) {
    throw invalid("fromExec takes an options object with at least command.");
  }
  const { command, cwd } = options;
  if (typeof command !== "string" || command.trim() === "" || command.includes("\0")) {
    throw invalid(
      "options.command must be the program to run (a path or a name on PATH), as a string.",
    );
  }
  const args = options.args ?? [];
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== "string" || arg.includes("\0"))) {
    throw invalid("options.args must be an array of strings.");
  }
  const timeoutInMs = checkTimeoutInMs(
    options.timeoutInMs ?? DEFAULT_TIMEOUT_MS,
    "options.timeoutInMs",
    MAX_TIMEOUT_MS,
  );
  if (cwd !== undefined && (typeof cwd !== "string" || cwd === "")) {
    throw invalid("options.cwd must be a directory, as a string.");
  }
  const includeStderr = options.includeStderrInErrors ?? false;
  if (typeof includeStderr !== "boolean") {
    throw invalid("options.includeStderrInErrors must be true or false.");
  }
  // The arguments are not shown: they may hold a key.
  const display = JSON.stringify(command);

  return memoizeAssertion(async (context: AssertionContext) => {
    if (process.env[FEDCRED_ALLOW_EXECUTABLES] !== "1") {
      throw new CredentialUnavailableError(
        `fromExec runs programs only when this process's environment allows it: set ${FEDCRED_ALLOW_EXECUTABLES}=1 to run ${display}.`,
        "missing_configuration",
      );
    }
    const outcome = await run(command, args, {
      timeoutInMs,
      cwd,
      signal: context?.abortSignal,
      display,
    });
    const stderr = programText(outcome.stderr);
    const stderrNote = includeStderr && stderr !== "" ? ` Its stderr: ${stderr}` : "";
    return readResponse(outcome, display, stderrNote);
  });
}
