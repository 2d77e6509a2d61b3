import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "e2e",
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    globalSetup: ["test/global-setup.ts"],
  },
});
