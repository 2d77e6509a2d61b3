import { createRequire } from "node:module";
import { join } from "node:path";
import { describeDetection } from "@fedcred/core";
import type { Check } from "./checks.js";

const NAME = "assertion source";

/** Whether `packageName` resolves from here (the CLI's own dependencies) or from the working directory. */
function installed(packageName: string): boolean {
  for (const base of [import.meta.url, join(process.cwd(), "package.json")]) {
    try {
      createRequire(base).resolve(`${packageName}/package.json`);
      return true;
    } catch {
      // Not from here.
    }
  }
  return false;
}

/** What `detectAssertion()` would pick in this environment, and whether its package is there to load. */
export function checkDetection(env: NodeJS.ProcessEnv): Check {
  const detection = describeDetection({ env });
  if (detection.source === undefined || detection.packageName === undefined) {
    return {
      check: NAME,
      ok: false,
      detail: detection.reason,
      fix: "Run where the platform's variables are set (the workload-identity webhook's AZURE_FEDERATED_TOKEN_FILE, a GitHub Actions job with id-token: write, an AzureCLI@2 task), or give ClientAssertionCredential its source yourself.",
    };
  }
  if (!installed(detection.packageName)) {
    return {
      check: NAME,
      ok: true,
      detail: `${detection.reason}; ${detection.packageName} is not installed here`,
      fix: `detectAssertion() loads ${detection.packageName} on its first call: npm install ${detection.packageName}`,
    };
  }
  return { check: NAME, ok: true, detail: detection.reason, fix: null };
}
