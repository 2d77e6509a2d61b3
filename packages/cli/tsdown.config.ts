import { defineConfig } from "tsdown";
import { library, packageVersion } from "../../tsdown.base.ts";

// A command, not a library: ES modules only (its dependencies @kubernetes/client-node and the
// emulator are ESM-first anyway). The bin shares chunks with index.mjs, and each command is its own
// chunk, loaded when it runs, so `fedcred inspect` never loads the AWS SDK or the emulator.
export default defineConfig({
  ...library,
  entry: ["src/index.ts", "src/bin.ts"],
  format: ["esm"],
  define: { __PACKAGE_VERSION__: JSON.stringify(packageVersion) },
});
