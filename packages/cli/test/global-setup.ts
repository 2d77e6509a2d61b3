import { execFile } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const packageRoot = join(import.meta.dirname, "..");

function newestSource(directory: string): number {
  return Math.max(
    ...readdirSync(directory, { withFileTypes: true }).map((entry) => {
      const path = join(directory, entry.name);
      return entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs;
    }),
  );
}

/** The tests run the built command: build it unless dist/bin.mjs is newer than every source (turbo builds first). */
export default async function setup(): Promise<void> {
  const bin = join(packageRoot, "dist", "bin.mjs");
  if (existsSync(bin) && statSync(bin).mtimeMs > newestSource(join(packageRoot, "src"))) return;
  await promisify(execFile)("pnpm", ["build"], { cwd: packageRoot });
}
