import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "aws",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // No test may find the machine's AWS keys, profile, region or instance metadata.
    setupFiles: ["test/isolated-aws-environment.ts"],
    // Each file starts an emulated STS and Entra (RSA and EC keys): generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
