#!/usr/bin/env node
// Every runtime dependency of a published package must accept the lowest Node line we support:
// a dependency that declares a newer Node is a bug we ship. Reads the installed tree of the
// lockfile (`pnpm ls --prod`), so it checks exactly what `pnpm install --frozen-lockfile` gave.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const floor = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node;
const lowest = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(floor);
if (!lowest) throw new Error(`the root package.json's engines.node (${floor}) names no version`);
const version = lowest.slice(1).map((part) => Number(part ?? 0));

/** Whether `range` (an engines.node value) accepts `version`: the forms packages use. */
function accepts(range, [major, minor, patch]) {
  const below = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  return range.split("||").some((alternative) => {
    const parts = alternative
      .trim()
      .replace(/(>=|<=|>|<|\^|~|=)\s+/g, "$1")
      .split(/\s+/)
      .filter(Boolean);
    if (parts.length === 0 || parts.includes("*")) return true;
    return parts.every((part) => {
      const match = /^(>=|>|<=|<|\^|~|=)?\s*v?(\d+|x|\*)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?/.exec(
        part,
      );
      if (!match) return true;
      const [, op = "=", ...raw] = match;
      const wanted = raw.map((value) =>
        value === undefined || value === "x" || value === "*" ? 0 : Number(value),
      );
      const order = below([major, minor, patch], wanted);
      switch (op) {
        case ">=":
          return order >= 0;
        case ">":
          return order > 0;
        case "<=":
          return order <= 0;
        case "<":
          return order < 0;
        case "^":
          return order >= 0 && major === wanted[0];
        case "~":
          return order >= 0 && major === wanted[0] && minor === wanted[1];
        default:
          return raw[1] === undefined ? major === wanted[0] : order === 0;
      }
    });
  });
}

const projects = JSON.parse(
  execFileSync("pnpm", ["ls", "-r", "--prod", "--depth", "Infinity", "--json"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  }),
);
const seen = new Map();
const walk = (dependencies, via) => {
  for (const [name, dependency] of Object.entries(dependencies ?? {})) {
    const key = `${name}@${dependency.version}`;
    if (seen.has(key)) continue;
    seen.set(key, { path: dependency.path, via });
    walk(dependency.dependencies, via);
  }
};
for (const project of projects) {
  if (project.private) continue;
  walk(project.dependencies, project.name);
}
const refusals = [];
for (const [key, { path, via }] of seen) {
  if (key.includes("@link:") || key.includes("@file:")) continue;
  const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8"));
  const range = manifest.engines?.node;
  if (typeof range === "string" && !accepts(range, version)) {
    refusals.push(`${key} (needed by ${via}) declares node ${range}`);
  }
}
if (refusals.length > 0) {
  console.error(
    `Runtime dependencies that do not accept Node ${version.join(".")}, our lowest line (engines ${floor}):\n  ${refusals.join("\n  ")}\nPin or replace them, or raise the floor in every package.json honestly.`,
  );
  process.exit(1);
}
console.log(`engines: all ${seen.size} runtime dependencies accept Node ${version.join(".")}.`);
