// pnpm hooks. beforePacking shapes the package.json that `pnpm pack` and `pnpm publish` put in a
// tarball (the file on disk stays as it is): what users install carries no devDependencies (one
// of them is the private @fedcred/test-support) and no scripts (each one runs tools of this
// monorepo, in its folders). scripts/check-packages.mjs checks the packed result.
// pnpm records this file's checksum in pnpm-lock.yaml: after editing it, run `pnpm install`.

export const hooks = {
  beforePacking(manifest) {
    delete manifest.devDependencies;
    delete manifest.scripts;
    return manifest;
  },
};
