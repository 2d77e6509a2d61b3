import { execFile } from "node:child_process";

/** How a {@link runModule} process ended. */
export interface ModuleRun {
  /** The exit code: `null` when a signal (or the timeout) ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `source` as an ES module in a Node.js process of its own (`node --input-type=module
 * --eval`), so a test can see whether a process with nothing else to do waits for a call or
 * exits mid-call (code 13: an unsettled top-level await). Bare imports resolve from `cwd`
 * (a package folder: its own name and dependencies).
 *
 * @param source - The module's code.
 * @param options - `cwd`; `env` (default: this process's); `timeoutInMs` after which the process
 *   is killed (default 30 000).
 * @returns The exit code, stdout and stderr; never rejects.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runModule('console.log("hi")', { cwd: join(import.meta.dirname, "..") });
 * ```
 */
export function runModule(
  source: string,
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutInMs?: number },
): Promise<ModuleRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--input-type=module", "--eval", source],
      { cwd: options.cwd, timeout: options.timeoutInMs ?? 30_000, env: options.env ?? process.env },
      (error, stdout, stderr) => resolve({ code: error ? child.exitCode : 0, stdout, stderr }),
    );
  });
}
