// Install footprint: the packages packed as `pnpm publish` packs them (.pnpmfile.mjs's
// beforePacking hook included), installed into empty folders with pnpm, offline from the store
// the workspace's install filled, into npm's flat node_modules (nodeLinker: hoisted); then the
// bytes of every file in node_modules (apparent sizes), ours and all. @azure/identity is installed
// the same way, at the version the workspace locks.
import { execFile } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Figure, FigureResult, Row, Section } from "../context.js";
import { bytes, count, ratio } from "../format.js";

const run = promisify(execFile);

/**
 * The part of the workspace's lockfile a fresh project of `roots` needs: the snapshots reachable
 * from every version of each root package, and their packages; no importers. pnpm resolves the
 * project's dependencies to the versions it holds, which the store has, so the install needs no
 * registry (and pnpm's checks of the lockfile meet only packages the workspace installed). An
 * optional peer the lockfile holds would be installed too: `without` leaves packages out.
 */
function lockfileSeed(lockfile: string, roots: string[], without: string[]): string {
  const workspace = lockfile.split(/^---$/m).pop()!;
  const sections = workspace.split(/^(?=\S)/m);
  const section = (key: string): string =>
    sections.find((text) => text.startsWith(`${key}:`)) ?? "";
  const entries = (key: string): string[] =>
    section(key)
      .split(/^(?= {2}\S)/m)
      .slice(1);
  // "  name@version:" or "  'name@version(peer@version)': {}"
  const idOf = (entry: string): string => {
    const match = /^ {2}(?:'([^']+)'|([^\s:]+)):/.exec(entry);
    return match?.[1] ?? match?.[2] ?? "";
  };
  const nameOf = (id: string): string => id.slice(0, id.indexOf("@", 1));
  const snapshots = new Map<string, { entry: string; dependencies: string[] }>();
  for (const entry of entries("snapshots")) {
    const dependencies: string[] = [];
    let inDependencies = false;
    for (const line of entry.split("\n").slice(1)) {
      if (/^ {4}(dependencies|optionalDependencies):/.test(line)) inDependencies = true;
      else if (/^ {4}\S/.test(line)) inDependencies = false;
      else if (inDependencies) {
        const match = /^ {6}'?([^':]+)'?: '?([^']+)'?$/.exec(line);
        if (match) dependencies.push(`${match[1]}@${match[2]}`);
      }
    }
    snapshots.set(idOf(entry), { entry, dependencies });
  }
  const kept = new Set<string>();
  const queue = [...snapshots.keys()].filter((id) => roots.includes(nameOf(id)));
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (kept.has(id) || !snapshots.has(id) || without.includes(nameOf(id))) continue;
    kept.add(id);
    queue.push(...(snapshots.get(id)?.dependencies ?? []));
  }
  const keptPackages = new Set([...kept].map((id) => id.replace(/\(.*$/, "")));
  return [
    section("lockfileVersion"),
    section("settings"),
    "importers:\n\n  .: {}\n\n",
    "packages:\n\n",
    entries("packages")
      .filter((entry) => keptPackages.has(idOf(entry)))
      .join(""),
    "snapshots:\n\n",
    [...kept].map((id) => snapshots.get(id)!.entry).join(""),
  ].join("");
}

interface Footprint {
  /** Bytes of every file under node_modules. */
  all: number;
  files: number;
  packages: number;
  /** Bytes under node_modules/<scope> (ours: @fedcred; theirs: @azure, the Azure SDK and MSAL). */
  own: number;
}

async function measure(nodeModules: string, scope: string): Promise<Footprint> {
  const result: Footprint = { all: 0, files: 0, packages: 0, own: 0 };
  const walk = async (folder: string, own: boolean): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        const parent = basename(folder);
        const isPackage =
          (parent === "node_modules" && !/^[.@]/.test(entry.name)) ||
          (parent.startsWith("@") && basename(dirname(folder)) === "node_modules");
        if (isPackage) result.packages += 1;
        await walk(path, own || path === join(nodeModules, scope));
      } else if (entry.isFile()) {
        const { size } = await lstat(path);
        result.all += size;
        result.files += 1;
        if (own) result.own += size;
      }
    }
  };
  await walk(nodeModules, false);
  return result;
}

async function install(
  folder: string,
  dependencies: Record<string, string>,
  overrides: Record<string, string>,
  seed: string,
): Promise<void> {
  await mkdir(folder);
  await writeFile(
    join(folder, "package.json"),
    JSON.stringify({ name: "fresh", private: true, dependencies }),
  );
  await writeFile(join(folder, "pnpm-lock.yaml"), seed);
  const overridden = Object.entries(overrides).map(
    ([name, spec]) => `  ${JSON.stringify(name)}: ${JSON.stringify(spec)}\n`,
  );
  await writeFile(
    join(folder, "pnpm-workspace.yaml"),
    `nodeLinker: hoisted\n${overridden.length > 0 ? `overrides:\n${overridden.join("")}` : ""}`,
  );
  await run("pnpm", ["install", "--offline", "--no-frozen-lockfile", "--prod"], {
    cwd: folder,
  }).catch((error: { stdout: string; stderr: string }) => {
    throw new Error(`pnpm install in ${folder} failed:\n${error.stdout}${error.stderr}`);
  });
}

export const installFootprint: Figure = {
  id: "install-footprint",
  smoke: false,
  async run(context): Promise<FigureResult> {
    const work = await mkdtemp(join(tmpdir(), "fedcred-bench-footprint-"));
    try {
      const tarballs = join(work, "tarballs");
      await mkdir(tarballs);
      const tarball: Record<string, string> = {};
      for (const name of ["core", "file"]) {
        const { stdout } = await run("pnpm", ["pack", "--json", "--pack-destination", tarballs], {
          cwd: join(context.root, "packages", name),
        });
        tarball[`@fedcred/${name}`] = `file:${JSON.parse(stdout).filename}`;
      }
      const lockfile = await readFile(join(context.root, "pnpm-lock.yaml"), "utf8");
      const coreManifest = JSON.parse(
        await readFile(join(context.root, "packages", "core", "package.json"), "utf8"),
      ) as { dependencies: Record<string, string> };
      // @azure/logger is core's optional peer: a user without it does not get it.
      const ours = lockfileSeed(lockfile, Object.keys(coreManifest.dependencies), [
        "@azure/logger",
      ]);
      const theirs = lockfileSeed(lockfile, ["@azure/identity"], []);
      const identityVersion = JSON.parse(
        await readFile(join(context.root, "bench", "package.json"), "utf8"),
      ).dependencies["@azure/identity"] as string;
      const core = { "@fedcred/core": tarball["@fedcred/core"]! };
      await Promise.all([
        install(join(work, "core"), core, {}, ours),
        install(
          join(work, "core-file"),
          { ...core, "@fedcred/file": tarball["@fedcred/file"]! },
          core,
          ours,
        ),
        install(join(work, "azure"), { "@azure/identity": identityVersion }, {}, theirs),
      ]);
      const sizes = {
        core: await measure(join(work, "core", "node_modules"), "@fedcred"),
        coreFile: await measure(join(work, "core-file", "node_modules"), "@fedcred"),
        azure: await measure(join(work, "azure", "node_modules"), "@azure"),
      };
      const rows: Row[] = [];
      const sections: [Section, Footprint, string][] = [
        ["credential", sizes.core, "@fedcred/core"],
        ["file", sizes.coreFile, "@fedcred/core + @fedcred/file"],
      ];
      for (const [section, footprint, names] of sections) {
        rows.push(
          {
            section,
            figure: `install footprint, own code: ${names} (@fedcred/*) vs @azure/identity (@azure/*)`,
            fedcred: bytes(footprint.own),
            azure: bytes(sizes.azure.own),
            ratio: ratio(footprint.own / sizes.azure.own),
            target: "core + file < 300 KB",
            met: footprint.own < 300e3,
          },
          {
            section,
            figure: "install footprint, everything in node_modules (packages)",
            fedcred: `${bytes(footprint.all)} (${count(footprint.packages)})`,
            azure: `${bytes(sizes.azure.all)} (${count(sizes.azure.packages)})`,
            ratio: ratio(footprint.all / sizes.azure.all),
            target: "-",
            met: undefined,
          },
        );
      }
      return { rows, data: sizes, checks: [] };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
};
