import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "reliability",
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Every scenario runs with core's logger at its most verbose, so the secrets check sees
    // every line it can write.
    env: { AZURE_LOG_LEVEL: "verbose" },
    // Builds the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // Captures every log line, error and credential of every test file and fails the file
    // when a secret shows in any of them (test/support/secrets-setup.ts).
    setupFiles: ["test/support/secrets-setup.ts"],
  },
});
