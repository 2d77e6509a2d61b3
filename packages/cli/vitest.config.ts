import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "cli",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // Each file starts a lab (RSA keys, TLS, five servers) and runs the built command as a
    // subprocess many times: generous on a loaded 2-core CI machine.
    hookTimeout: 120_000,
    testTimeout: 120_000,
  },
});
