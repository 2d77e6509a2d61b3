import { readFileSync } from "node:fs";
import { defineProject } from "vitest/config";

const { version } = JSON.parse(readFileSync(new URL("package.json", import.meta.url), "utf8"));

export default defineProject({
  define: {
    __PACKAGE_VERSION__: JSON.stringify(version),
    __MODULE_FORMAT__: JSON.stringify("esm"),
  },
  test: {
    name: "core",
    include: ["test/**/*.test.ts"],
    // Builds this package and the workspace packages it depends on first (turbo, cached).
    globalSetup: ["../../tests/support/src/build-first.ts"],
    // Some tests generate RSA keys and certificates: generous on a loaded 2-core CI machine.
    hookTimeout: 60_000,
    testTimeout: 60_000,
  },
});
