import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "bench",
    include: ["test/**/*.test.ts"],
    // The smoke run starts the emulator and a dozen client processes: generous on a loaded machine.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../tests/support/src/build-first.ts"],
  },
});
