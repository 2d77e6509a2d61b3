import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "file",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
  },
});
