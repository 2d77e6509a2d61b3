import { createRequire } from "node:module";

/** The module format of this build, set by the build (`tsdown.base.ts`) and by vitest. */
declare const __MODULE_FORMAT__: "esm" | "cjs";

type Forge = typeof import("node-forge");

let forge: Forge | undefined;

/**
 * node-forge, loaded on the first PKCS#12 file: it costs about 50 ms to load, which PEM users
 * never pay. The factory is synchronous, so it is required, not imported (node-forge is CommonJS).
 */
export function loadForge(): Forge {
  if (forge === undefined) {
    const load = __MODULE_FORMAT__ === "cjs" ? require : createRequire(import.meta.url);
    forge = load("node-forge") as Forge;
  }
  return forge;
}
