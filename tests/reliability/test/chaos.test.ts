import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { ChaosReport } from "../src/chaos.js";

// About a minute of chaos in every `pnpm test`; `pnpm chaos --minutes N` runs it for longer.
// CHAOS_SEED replays a run whose seed a failure printed.
//
// The run goes in a child process, started with --expose-gc, as `pnpm chaos` runs it: the memory
// invariant (every closed credential garbage-collected, the heap back to its baseline) needs a
// process of its own. Inside a vitest worker a closed credential that fetched a token stays
// reachable from something of vitest's, while in plain Node it is collected.
const seed = process.env.CHAOS_SEED
  ? Number(process.env.CHAOS_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const packageDirectory = fileURLToPath(new URL("..", import.meta.url));
const runner = fileURLToPath(new URL("../dist/chaos.js", import.meta.url));
const tsc = fileURLToPath(new URL("../../../node_modules/typescript/bin/tsc", import.meta.url));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", runner, ...args], {
      cwd: packageDirectory,
      // 20,000 calls at AZURE_LOG_LEVEL=info would log a line per token request: not wanted here.
      env: { ...process.env, AZURE_LOG_LEVEL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  // The runner is TypeScript; Node 20 runs it compiled (what `pnpm chaos` does too).
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.chaos.json"], { cwd: packageDirectory });
});

describe("chaos over time", () => {
  it("a minute of mixed calls under random faults, file and key rotation breaks no invariant", async () => {
    console.log(
      `chaos: seed ${seed} (replay with CHAOS_SEED=${seed} or pnpm chaos --seed ${seed})`,
    );
    const { code, stdout, stderr } = await runCli(["--seconds", "60", "--seed", String(seed)]);
    expect(stdout.split("\n")[0]).toBe(`chaos: seed ${seed} (replay with --seed ${seed}), 60 s`);
    expect(stderr, `seed ${seed}`).toBe("");
    expect(code, `seed ${seed}: ${stderr}`).toBe(0);

    const report = JSON.parse(
      stdout.slice(stdout.indexOf("{"), stdout.lastIndexOf("}") + 1),
    ) as Omit<ChaosReport, "violations" | "moreViolations">;
    console.log(`chaos: ${JSON.stringify(report)}`);
    // The run did what it says: the chaos happened, and calls still got tokens.
    expect(report.seed).toBe(seed);
    expect(report.tokens).toBeGreaterThan(report.calls / 2);
    expect(report.faultsPlayed).toBeGreaterThan(0);
    expect(report.fileRotations).toBeGreaterThan(10);
    expect(report.keyRotations).toBeGreaterThanOrEqual(4);
    expect(report.claimsCalls).toBeGreaterThan(0);
    expect(report.abortedCalls).toBeGreaterThan(0);
    expect(report.tokenRequests).toBeGreaterThan(0);
    expect(report.tokenRequests).toBeLessThanOrEqual(report.tokenRequestBound);
    expect(report.heap.afterCloseBytes - report.heap.baselineBytes).toBeLessThanOrEqual(
      report.heap.allowedGrowthBytes,
    );
    expect(stdout).toContain(`chaos: every invariant held (seed ${seed})`);
  }, 240_000);

  it("refuses a bad command line with exit 2, before starting anything", async () => {
    const { code, stdout, stderr } = await runCli(["--minutes", "soon"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe('chaos: --minutes needs a non-negative number, got "soon"\n');
  });
});
