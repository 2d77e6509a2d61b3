// pnpm bench [--smoke] [--json] [--only=id,id] [--cpu-prof=DIR]
// fedcred against @azure/identity, in one run, against the emulator's Entra ID over HTTPS on
// loopback (in its own process); every client in a fresh process that trusts the emulator's CA
// from its start. Prints one table of figures, ratios and targets (Markdown), or JSON.
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type CountCheck,
  createContext,
  type FigureResult,
  type Row,
  startEmulatorProcess,
} from "./context.js";
import { figures } from "./figures/index.js";
import { markdownTable } from "./table.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    only: { type: "string" },
    "cpu-prof": { type: "string" },
  },
  // `pnpm bench -- --smoke` passes the "--" on.
  allowPositionals: true,
});
const smoke = values.smoke === true;
const root = fileURLToPath(new URL("../..", import.meta.url));
const only = values.only?.split(",").map((id) => id.trim());
const unknown = only?.filter((id) => !figures.some((figure) => figure.id === id)) ?? [];
if (unknown.length > 0) {
  console.error(
    `No figure ${unknown.join(", ")}; the figures are ${figures.map((f) => f.id).join(", ")}.`,
  );
  process.exit(2);
}
const profileDirectory = values["cpu-prof"] ? resolve(values["cpu-prof"]) : undefined;
if (profileDirectory) await mkdir(profileDirectory, { recursive: true });

/** Progress goes to stderr, so `--json` keeps stdout to the JSON. */
const progress = (text: string): void => void process.stderr.write(`${text}\n`);

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  } catch {
    return cpus()[0]?.model ?? "unknown";
  }
}

function checkPasses(check: CountCheck): boolean {
  return typeof check.expected === "number"
    ? check.counted === check.expected
    : check.counted >= check.expected.min && check.counted <= check.expected.max;
}

const machine = {
  cpus: cpus().length,
  model: cpuModel(),
  memoryBytes: totalmem(),
  loadAverageAtStart: loadavg(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
};
const started = performance.now();
progress(
  `fedcred bench${smoke ? " --smoke" : ""}: ${machine.cpus} x ${machine.model}, Node ${machine.node}, load ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")}`,
);
const emulator = await startEmulatorProcess();
const context = createContext({ lab: emulator.lab, smoke, root, profileDirectory });
const results: (FigureResult & { id: string; seconds: number; error?: string })[] = [];
let failed = false;
try {
  for (const figure of figures) {
    if (only ? !only.includes(figure.id) : smoke && !figure.smoke) continue;
    const start = performance.now();
    progress(`  ${figure.id} ...`);
    try {
      const result = await figure.run(context);
      const seconds = (performance.now() - start) / 1000;
      results.push({ id: figure.id, seconds, ...result });
      for (const check of result.checks) {
        if (!checkPasses(check)) {
          failed = true;
          progress(
            `  COUNT WRONG ${figure.id}: ${check.name}: counted ${check.counted}, expected ${JSON.stringify(check.expected)}`,
          );
        }
      }
      progress(`  ${figure.id} done in ${seconds.toFixed(1)} s`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      progress(`  ${figure.id} FAILED: ${message}`);
      results.push({
        id: figure.id,
        seconds: (performance.now() - start) / 1000,
        rows: [],
        data: {},
        checks: [],
        error: message,
      });
    }
  }
} finally {
  emulator.process.disconnect();
}
const rows: Row[] = results.flatMap((result) => result.rows);
const seconds = (performance.now() - started) / 1000;
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ machine, smoke, seconds, figures: results, ok: !failed }, null, 2)}\n`,
  );
} else {
  const unmet = rows.filter((row) => row.met === false).length;
  process.stdout.write(
    [
      `fedcred bench${smoke ? " --smoke (sizes too small for the figures to mean anything)" : ""}`,
      `${machine.cpus} x ${machine.model}, Node ${machine.node}, ${machine.platform}, ${machine.date}`,
      "",
      markdownTable(rows),
      "",
      `${rows.filter((row) => row.met === true).length} targets met, ${unmet} not; ${seconds.toFixed(0)} s.`,
      "",
    ].join("\n"),
  );
}
process.exitCode = failed ? 1 : 0;
