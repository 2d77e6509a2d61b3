import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

// Every test file starts from an AWS environment of nothing: no keys, profile, region or
// endpoint from the machine running the tests, empty shared files, and no instance metadata.
// Whatever a test needs it sets itself, pointing the SDK at a loopback server, so no test
// can reach real AWS.
for (const name of Object.keys(process.env)) {
  // The switch that quiets the SDK's Node-version notice (scripts/turbo.mjs sets it) stays.
  if (name.startsWith("AWS_") && name !== "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED") {
    delete process.env[name];
  }
}
const directory = mkdtempSync(join(tmpdir(), "fedcred-aws-"));
const empty = join(directory, "empty");
writeFileSync(empty, "");
process.env.AWS_SHARED_CREDENTIALS_FILE = empty;
process.env.AWS_CONFIG_FILE = empty;
process.env.AWS_EC2_METADATA_DISABLED = "true";
afterAll(() => rmSync(directory, { recursive: true, force: true }));
