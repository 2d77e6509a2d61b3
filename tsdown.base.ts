import { readFileSync } from "node:fs";
import type { UserConfig } from "tsdown";

/** The version of the package being built (tsdown runs in its folder). */
export const packageVersion: string = JSON.parse(readFileSync("package.json", "utf8")).version;

function defines(format: "esm" | "cjs"): Record<string, string> {
  return {
    __PACKAGE_VERSION__: JSON.stringify(packageVersion),
    __MODULE_FORMAT__: JSON.stringify(format),
  };
}

/** The one build of every fedcred library: ESM and CommonJS, with types for both, for Node 20.19+. */
export const library: UserConfig = {
  entry: ["src/index.ts"],
  // Each build knows its own module format (the core's logger loads @azure/logger the same way
  // the application does: import() in ES modules, require in CommonJS).
  format: {
    esm: { define: defines("esm") },
    cjs: { define: defines("cjs") },
  },
  platform: "node",
  target: "node20.19",
  dts: { oxc: true },
  // The JavaScript ships without its JSDoc (kept, with every TSDoc, in the .d.ts files editors
  // read): a third of the bytes every user installs twice, once per module format.
  outputOptions: (options, _format, context) =>
    context.cjsDts
      ? options
      : { ...options, comments: { legal: true, annotation: true, jsdoc: false } },
  clean: true,
};
