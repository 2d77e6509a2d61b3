import { defineConfig } from "tsdown";
import { library, packageVersion } from "../../tsdown.base.ts";

// The bin shares chunks with the ESM build instead of carrying a second copy of the emulator;
// it prints the version it was built with (`--version`).
export default defineConfig([
  {
    ...library,
    entry: ["src/index.ts", "src/bin.ts"],
    format: ["esm"],
    define: { __PACKAGE_VERSION__: JSON.stringify(packageVersion) },
  },
  { ...library, format: ["cjs"], clean: false },
]);
