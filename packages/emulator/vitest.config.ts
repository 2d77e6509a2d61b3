import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "emulator",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts", "test/global-setup.ts"],
    // Servers generate RSA keys and certificates: generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
