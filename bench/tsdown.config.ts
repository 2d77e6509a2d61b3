import { defineConfig } from "tsdown";

// One output file per source file (figures are loaded by path in the client processes), ES
// modules only, for Node 20.19+; every package it imports stays external.
export default defineConfig({
  entry: ["src/**/*.ts"],
  unbundle: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  dts: false,
  clean: true,
  deps: { skipNodeModulesBundle: true },
});
