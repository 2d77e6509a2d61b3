import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "packed",
    include: ["test/**/*.test.ts"],
    // Builds the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
});
