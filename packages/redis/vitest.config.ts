import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "redis",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached): the
    // fleet tests run the built dist in child processes.
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // Fleets of 50 processes and a real redis-server on a loaded 2-core CI machine: generous.
    hookTimeout: 120_000,
    testTimeout: 240_000,
    // One redis-server and one fleet at a time.
    fileParallelism: false,
  },
});
