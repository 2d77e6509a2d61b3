import { defineConfig } from "tsdown";
import { library } from "../../tsdown.base.ts";

// The bin shares chunks with the ESM build instead of carrying a second copy of the emulator.
export default defineConfig([
  { ...library, entry: ["src/index.ts", "src/bin.ts"], format: ["esm"] },
  { ...library, format: ["cjs"], clean: false },
]);
