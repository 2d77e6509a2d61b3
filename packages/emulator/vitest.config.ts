import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "emulator",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Servers generate RSA keys and certificates: generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
