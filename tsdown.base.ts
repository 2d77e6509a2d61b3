import type { UserConfig } from "tsdown";

/** The one build of every fedcred library: ESM and CommonJS, with types for both, for Node 20.19+. */
export const library: UserConfig = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  platform: "node",
  target: "node20.19",
  dts: { oxc: true },
  clean: true,
};
