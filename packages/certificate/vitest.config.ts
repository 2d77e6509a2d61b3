import { defineProject } from "vitest/config";

export default defineProject({
  define: {
    __MODULE_FORMAT__: JSON.stringify("esm"),
  },
  test: {
    name: "certificate",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // No test may find the machine's AZURE_CLIENT_CERTIFICATE_* variables.
    setupFiles: ["test/isolated-environment.ts"],
    // Files generate RSA keys and certificates and start an emulated Entra: generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
