import { readFileSync } from "node:fs";
import type { UserConfig } from "tsdown";

/** The version of the package being built (tsdown runs in its folder). */
export const packageVersion: string = JSON.parse(readFileSync("package.json", "utf8")).version;

/** The one build of every fedcred library: ESM and CommonJS, with types for both, for Node 20.19+. */
export const library: UserConfig = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  platform: "node",
  target: "node20.19",
  dts: { oxc: true },
  clean: true,
  define: { __PACKAGE_VERSION__: JSON.stringify(packageVersion) },
};
