import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "managed-identity",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // Tests start the emulator's servers and generate keys: generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
