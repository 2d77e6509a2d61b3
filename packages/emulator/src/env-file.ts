import { readFileSync, rmSync, unlinkSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The environment as `export NAME=value` lines a shell can source, or as one JSON object. */
export function formatEnvironment(env: Record<string, string>, json: boolean): string {
  if (json) return `${JSON.stringify(env, null, 2)}\n`;
  return Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join("");
}

function temporaryPath(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/**
 * Writes `text` to `path.tmp-<pid>`, then renames it over `path`: a reader that waits for the
 * file sees nothing or all of it, never a part.
 */
export async function writeEnvFile(path: string, text: string): Promise<void> {
  const temporary = temporaryPath(path);
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Removes the file at `path` if it still holds `text` (and a temporary file a write left): a lab
 * that stopped leaves no stale file for the next script to read, and never removes one that
 * another run wrote since. Synchronous, for an `exit` handler.
 */
export function removeEnvFileSync(path: string, text: string): void {
  rmSync(temporaryPath(path), { force: true });
  try {
    if (readFileSync(path, "utf8") === text) unlinkSync(path);
  } catch {
    // Already gone, or not readable: nothing of ours to remove.
  }
}
