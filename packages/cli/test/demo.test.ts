import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bareEnvironment, fedcred } from "./fedcred.js";

const PROVIDERS = [
  "file",
  "kubernetes",
  "projected",
  "aws",
  "certificate",
  "github-actions",
  "azure-pipelines",
  "gcp",
  "managed-identity",
  "url",
  "exec",
];
// The demo starts its own lab: nothing of the environment is needed.
const env = bareEnvironment(mkdtempSync(join(tmpdir(), "fedcred-demo-")));

describe("fedcred demo", () => {
  it("runs every provider against its own lab, prints the table, and exits 0 by itself", async () => {
    const run = await fedcred(["demo"], { env, timeoutMs: 90_000 });
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toMatch(
      /^provider +assertion issuer \/ subject +token audience +expires in +took +resource$/,
    );
    for (const provider of PROVIDERS) {
      const row = lines.find((line) => line.startsWith(`✓ ${provider} `));
      expect(row, provider).toMatch(
        /https:\/\/storage\.azure\.com +(59 min|1 h) +[\d.]+ m?s +200 OK$/,
      );
    }
    expect(run.stdout).toMatch(/^ +system:serviceaccount:fedcred:workload$/m);
    expect(run.stdout).toMatch(/^ +arn:aws:iam::123456789012:role\/fedcred-workload$/m);
    expect(run.stdout).toMatch(
      /^projected: rotated between two token requests: the second sent the new token \(jti \S+ then \S+\)$/m,
    );
    // The CI and cloud sources: each row's assertion came from its own emulated issuer.
    expect(run.stdout).toMatch(/^ +repo:fedcred\/lab:environment:lab$/m);
    expect(run.stdout).toMatch(/^ +sc:\/\/fedcred\/lab\/lab-deploy$/m);
    expect(run.stdout).toMatch(/^ +104729551318874962951$/m);
    expect(run.stdout).toMatch(
      /^✓ managed-identity +http:\/\/127\.0\.0\.1:\d+\/[\da-f-]{36}\/v2\.0 /m,
    );
    expect(run.stdout).toMatch(
      /^github-actions: detectAssertion\(\{ env \}\) with the job's two variables picks @fedcred\/github-actions: GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set$/m,
    );
    expect(run.stdout).toMatch(
      /^url: GET http:\/\/127\.0\.0\.1:\d+\/token with an x-token-key header, answered \{ "value": <the lab issuer's JWT> \} 1 time\(s\)$/m,
    );
    expect(run.stdout).toMatch(
      /^exec: ran \S+ -e <a script printing the token file as AIP-4117 JSON>; the demo set FEDCRED_ALLOW_EXECUTABLES=1 for this token request only$/m,
    );
    expect(run.stdout).toContain(
      "All 11 providers got a token for https://storage.azure.com/.default and the resource accepted each.",
    );
    // Progress on stderr, plain lines (not a TTY), and no token anywhere.
    expect(run.stderr).toMatch(/^fedcred demo: ✓ starting the lab/m);
    for (const provider of PROVIDERS)
      expect(run.stderr).toMatch(new RegExp(`^fedcred demo: ✓ ${provider}: `, "m"));
    expect(run.stderr).not.toContain("NodeVersionSupportWarning");
    expect(run.stdout + run.stderr).not.toMatch(/eyJ[\w-]{20,}/);
    expect(run.stdout + run.stderr).not.toContain("\u001b[");
  });

  it("--json prints every row, each ok", async () => {
    const run = await fedcred(["demo", "--json"], { env, timeoutMs: 90_000 });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; rows: Record<string, unknown>[] };
    expect(result.ok).toBe(true);
    expect(result.rows.map((row) => row.provider)).toEqual(PROVIDERS);
    for (const row of result.rows) {
      expect(row).toMatchObject({
        ok: true,
        audience: "https://storage.azure.com",
        resourceStatus: 200,
        error: null,
      });
      expect(row.assertionIssuer).toEqual(expect.any(String));
      expect(row.durationMs).toEqual(expect.any(Number));
    }
  });
});
