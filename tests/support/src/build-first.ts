import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

const repositoryRoot = join(import.meta.dirname, "..", "..", "..");
/** turbo as the root scripts run it: the same task hashes (they hold the Node.js version). */
const turbo = join(repositoryRoot, "scripts", "turbo.mjs");

/**
 * A vitest global setup (`globalSetup` in a package's vitest.config.ts): builds the package under
 * test and every workspace package it depends on, through turbo's `build` task, before any test
 * file loads. Tests import their siblings by package name (each one's dist), run built bins and
 * pack tarballs; and a package's `pnpm test` runs publint and attw on its own dist after vitest.
 * So `pnpm test` or `npx vitest run` inside a package works from a fresh clone. Turbo's cache
 * makes this a fraction of a second when nothing changed, as under the root `pnpm test`, where
 * turbo has built them all before the tests start.
 */
export default async function buildFirst(project: TestProject): Promise<void> {
  const { name } = JSON.parse(readFileSync(join(project.config.root, "package.json"), "utf8"));
  const args = ["run", "build", `--filter=${name}...`, "--output-logs=errors-only"];
  await promisify(execFile)(process.execPath, [turbo, ...args], { cwd: repositoryRoot }).catch(
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(
        `turbo ${args.join(" ")} failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`,
      );
    },
  );
}
