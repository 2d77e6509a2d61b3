import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "e2e",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Builds the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts", "test/global-setup.ts"],
  },
});
