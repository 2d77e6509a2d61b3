// Import cost: `node -e "require(pkg)"` and `import()`, each in a fresh process, the median wall
// time of N runs minus the median of the same process without the package (`node -e ""`, and
// `node --input-type=module -e ""` for import()). Runs are interleaved, so a busy moment of the
// machine lands on every kind alike.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Figure, FigureResult, Row, Section } from "../context.js";
import { ms, ratio } from "../format.js";
import { median } from "../stats.js";

/** The bench package's folder: its node_modules resolve every package measured. */
const benchFolder = fileURLToPath(new URL("../..", import.meta.url));

function timeProcess(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: benchFolder,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const elapsed = performance.now() - start;
      if (code === 0) resolve(elapsed);
      else reject(new Error(`node ${args.join(" ")} exited ${code}: ${stderr}`));
    });
  });
}

const requireOf = (packages: string[]): string[] => [
  "-e",
  packages.map((name) => `require(${JSON.stringify(name)});`).join(""),
];
const importOf = (packages: string[]): string[] => [
  "--input-type=module",
  "-e",
  packages.map((name) => `await import(${JSON.stringify(name)});`).join(""),
];

const sets: Record<string, string[]> = {
  core: ["@fedcred/core"],
  coreFile: ["@fedcred/core", "@fedcred/file"],
  azure: ["@azure/identity"],
};

export const importCost: Figure = {
  id: "import-cost",
  smoke: false,
  async run(context): Promise<FigureResult> {
    const runs = context.smoke ? 1 : 20;
    // Each against its own bare process: an ES module eval starts the ESM loader, which costs
    // the same with or without a package.
    const kinds: Record<string, string[]> = {
      "bare:require": ["-e", ""],
      "bare:import": ["--input-type=module", "-e", ""],
    };
    for (const [name, packages] of Object.entries(sets)) {
      kinds[`${name}:require`] = requireOf(packages);
      kinds[`${name}:import`] = importOf(packages);
    }
    const times: Record<string, number[]> = {};
    for (let run = 0; run < runs; run++) {
      for (const [kind, args] of Object.entries(kinds)) {
        const elapsed = await timeProcess(args);
        times[kind] = [...(times[kind] ?? []), elapsed];
      }
    }
    const bare = {
      require: median(times["bare:require"]!),
      import: median(times["bare:import"]!),
    };
    const cost = (kind: string, how: "require" | "import"): number =>
      median(times[kind]!) - bare[how];
    const rows: Row[] = [];
    const sections: [Section, string, string][] = [
      ["credential", "core", "@fedcred/core"],
      ["file", "coreFile", "@fedcred/core + @fedcred/file"],
    ];
    for (const [section, set, names] of sections) {
      for (const how of ["require", "import"] as const) {
        const ours = cost(`${set}:${how}`, how);
        const theirs = cost(`azure:${how}`, how);
        rows.push({
          section,
          figure: `import cost, ${how === "require" ? "require()" : "import()"} of ${names} (median of ${runs} fresh processes, minus a bare one: ${ms(bare[how])})`,
          fedcred: ms(ours),
          azure: ms(theirs),
          ratio: ratio(ours / theirs),
          target: "<= 20 ms",
          met: ours <= 20,
        });
      }
    }
    const medians = Object.fromEntries(
      Object.entries(times).map(([kind, values]) => [kind, median(values)]),
    );
    return { rows, data: { runs, medians, times }, checks: [] };
  },
};
