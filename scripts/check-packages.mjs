#!/usr/bin/env node
// Every publishable package must be fit to publish, judged on what `pnpm pack` really produces
// (the same step `pnpm publish` runs, .pnpmfile.mjs's beforePacking hook included): the tarball
// holds LICENSE, README.md, package.json and the built dist; the packed package.json carries the
// metadata users and registries read, and nothing that only makes sense inside this monorepo (no
// devDependencies, no scripts, no `workspace:` ranges, no private package). Needs `pnpm build`.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;
const repositoryUrl = "https://github.com/fedcred/fedcred";
const license = await readFile(join(root, "LICENSE"), "utf8");
const licenseName = JSON.parse(await readFile(join(root, "package.json"), "utf8")).license;

/** Every workspace package folder under the globs this script judges, with its package.json. */
async function workspacePackages(parent) {
  const folders = await readdir(join(root, parent), { withFileTypes: true });
  const found = [];
  for (const folder of folders.filter((entry) => entry.isDirectory())) {
    const directory = `${parent}/${folder.name}`;
    const text = await readFile(join(root, directory, "package.json"), "utf8").catch(() => null);
    if (text !== null) found.push({ directory, manifest: JSON.parse(text) });
  }
  return found;
}

const all = [...(await workspacePackages("packages")), ...(await workspacePackages("tests"))];
const privateNames = new Set(all.filter((p) => p.manifest.private).map((p) => p.manifest.name));
const publishable = all.filter((p) => !p.manifest.private);
const dependencyFields = [
  "dependencies",
  "peerDependencies",
  "optionalDependencies",
  "devDependencies",
];

/** What is wrong with the metadata of `manifest` (a package.json of `directory`). */
function metadataProblems(manifest, directory) {
  const problems = [];
  const need = (ok, what) => ok || problems.push(what);
  const { repository, bugs, keywords, sideEffects, publishConfig, files } = manifest;
  need(manifest.license === licenseName, `license must be "${licenseName}" (the root's)`);
  need(
    repository?.type === "git" &&
      repository.url === `git+${repositoryUrl}.git` &&
      repository.directory === directory,
    `repository must be { type: "git", url: "git+${repositoryUrl}.git", directory: "${directory}" }`,
  );
  need(
    manifest.homepage === `${repositoryUrl}/tree/main/${directory}#readme`,
    `homepage must be "${repositoryUrl}/tree/main/${directory}#readme"`,
  );
  need(bugs?.url === `${repositoryUrl}/issues`, `bugs.url must be "${repositoryUrl}/issues"`);
  need(
    Array.isArray(keywords) && keywords.length > 0 && keywords.every((k) => typeof k === "string"),
    "keywords must be a list of words",
  );
  need(typeof manifest.author === "string" && manifest.author !== "", "author is missing");
  need(
    typeof sideEffects === "boolean" ||
      (Array.isArray(sideEffects) && sideEffects.every((s) => typeof s === "string")),
    "sideEffects must be true, false or a list of files",
  );
  need(publishConfig?.access === "public", 'publishConfig.access must be "public" (a scope)');
  need(Array.isArray(files) && files.includes("dist"), 'files must list "dist"');
  return problems;
}

/** The files `manifest` points users at (exports, main, module, types, bin), tarball-relative. */
function entryPoints(manifest) {
  const targets = new Set();
  const walk = (value) => {
    if (typeof value === "string") targets.add(value.replace(/^\.\//, ""));
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  walk([manifest.main, manifest.module, manifest.types]);
  walk(typeof manifest.bin === "string" ? [manifest.bin] : manifest.bin);
  return [...targets].filter((target) => !target.includes("*"));
}

/** Packs the package in `directory` and lists what is wrong with it; [] when nothing is. */
async function check({ directory, manifest }, destination) {
  const problems = metadataProblems(manifest, directory).map((p) => `package.json: ${p}`);
  const copy = await readFile(join(root, directory, "LICENSE"), "utf8").catch(() => null);
  if (copy !== license) problems.push(`${directory}/LICENSE must be a copy of the root LICENSE`);

  const { stdout } = await run("pnpm", ["pack", "--json", "--pack-destination", destination], {
    cwd: join(root, directory),
  });
  const tarball = JSON.parse(stdout).filename;
  const entries = (await run("tar", ["-tzf", tarball])).stdout.trim().split("\n");
  const read = async (path) => (await run("tar", ["-xOzf", tarball, `package/${path}`])).stdout;
  for (const file of ["LICENSE", "README.md", "package.json"]) {
    if (!entries.includes(`package/${file}`)) problems.push(`tarball: no ${file}`);
  }
  if (!entries.some((entry) => entry.startsWith("package/dist/"))) {
    problems.push("tarball: no dist/ (run `pnpm build` first)");
  }
  if (entries.includes("package/LICENSE") && (await read("LICENSE")) !== license) {
    problems.push("tarball: LICENSE differs from the root LICENSE");
  }
  if (!entries.includes("package/package.json")) return problems;

  const packedText = await read("package.json");
  const packed = JSON.parse(packedText);
  for (const target of entryPoints(packed)) {
    if (!entries.includes(`package/${target}`)) problems.push(`tarball: no ${target}`);
  }
  // What the packed copy lacks beyond the source's own problems (a hook dropping a field).
  for (const problem of metadataProblems(packed, directory)) {
    if (!problems.includes(`package.json: ${problem}`)) {
      problems.push(`packed package.json: ${problem}`);
    }
  }
  if (packed.devDependencies) problems.push("packed package.json: has devDependencies");
  if (packed.scripts) {
    problems.push(`packed package.json: has scripts (${Object.keys(packed.scripts).join(", ")})`);
  }
  for (const field of dependencyFields) {
    for (const [name, range] of Object.entries(packed[field] ?? {})) {
      if (String(range).startsWith("workspace:")) {
        problems.push(`packed package.json: ${field}.${name} is "${range}"`);
      }
      if (privateNames.has(name)) {
        problems.push(`packed package.json: ${field} names the private ${name}`);
      }
    }
  }
  for (const name of privateNames) {
    if (packedText.includes(name)) problems.push(`packed package.json: mentions private ${name}`);
  }
  return problems;
}

const destination = await mkdtemp(join(tmpdir(), "fedcred-check-packages-"));
let failed = false;
try {
  const results = await Promise.all(
    publishable.map((pkg) =>
      check(pkg, destination).catch((error) => [`pnpm pack failed: ${error.stderr || error}`]),
    ),
  );
  publishable.forEach(({ manifest }, index) => {
    const problems = results[index];
    if (problems.length === 0) {
      console.log(`ok   ${manifest.name}@${manifest.version}`);
      return;
    }
    failed = true;
    console.log(`FAIL ${manifest.name}@${manifest.version}`);
    for (const problem of problems) console.log(`     ${problem}`);
  });
} finally {
  await rm(destination, { recursive: true, force: true });
}
if (failed) {
  console.log("\nSome packages are not fit to publish (scripts/check-packages.mjs).");
  process.exit(1);
}
console.log(`\n${publishable.length} packages fit to publish.`);
