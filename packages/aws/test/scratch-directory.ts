import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/** A fresh directory for this test file's files (token files, AWS config files), removed after it. */
export function scratchDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), "fedcred-aws-test-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}
