import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";

const main = join(import.meta.dirname, "..", "dist", "main.mjs");

interface Check {
  name: string;
  counted: number;
  expected: number | { min: number; max: number };
}

interface Report {
  ok: boolean;
  smoke: boolean;
  machine: { cpus: number; node: string };
  figures: {
    id: string;
    error?: string;
    rows: { figure: string }[];
    checks: Check[];
    data: Record<string, unknown>;
  }[];
}

/** What `pnpm bench --smoke --json` reports: one run against the emulator in its own process. */
async function smokeRun(): Promise<Report> {
  const { stdout } = await promisify(execFile)(process.execPath, [main, "--smoke", "--json"], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    // A wrong count makes the run exit 1, with its report on stdout: the assertions say which.
    if (error.stdout?.startsWith("{")) return { stdout: error.stdout };
    throw new Error(`bench --smoke failed:\n${error.stderr ?? ""}`);
  });
  return JSON.parse(stdout) as Report;
}

// The request counts the benchmark reports, as the emulator counted them; nothing about speed.
describe("pnpm bench --smoke", () => {
  let report: Report;
  beforeAll(async () => {
    report = await smokeRun();
  }, 240_000);
  const figure = (id: string) => {
    const found = report.figures.find((f) => f.id === id);
    if (!found) throw new Error(`no figure ${id} in the smoke run`);
    expect(found.error).toBeUndefined();
    return found;
  };
  type Sides<T> = Record<"credential" | "file", { fedcred: T; azure: T }>;

  it("runs every figure that counts requests, each with rows, and reports them as JSON", () => {
    expect(report.smoke).toBe(true);
    expect(report.figures.map((f) => f.id)).toEqual([
      "cached-throughput",
      "first-token",
      "concurrent-callers",
      "assertion-calls",
      "many-keys",
      "refresh-under-load",
      "hardening",
      "fleet-restart",
    ]);
    for (const { id, error, rows } of report.figures) {
      expect({ id, error }).toEqual({ id, error: undefined });
      expect(rows.length).toBeGreaterThan(0);
    }
  });

  it("counts every check right, and says so in ok", () => {
    const wrong = report.figures.flatMap((f) =>
      f.checks.filter((check) =>
        typeof check.expected === "number"
          ? check.counted !== check.expected
          : check.counted < check.expected.min || check.counted > check.expected.max,
      ),
    );
    expect(wrong).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("a warm credential asks Entra once and never again, on both sides", () => {
    const data = figure("cached-throughput").data as Sides<{
      tokenRequests: number;
      calls: number;
    }>;
    for (const section of ["credential", "file"] as const) {
      expect(data[section].fedcred.tokenRequests).toBe(1);
      expect(data[section].azure.tokenRequests).toBe(1);
      expect(data[section].fedcred.calls).toBeGreaterThan(256);
    }
  });

  it("fresh credentials: one token request each, besides the floor's bare POSTs", () => {
    const data = figure("first-token").data as Sides<{
      tokenRequests: number;
      times: number[];
      floorTimes: number[];
    }>;
    for (const section of ["credential", "file"] as const) {
      const { fedcred, azure } = data[section];
      expect(fedcred.times).toHaveLength(5);
      expect(fedcred.floorTimes).toHaveLength(5);
      expect(fedcred.tokenRequests).toBe(5);
      expect(azure.tokenRequests).toBe(5);
    }
  });

  it("concurrent first callers: fedcred sends exactly one token request, theirs one per caller", () => {
    const data = figure("concurrent-callers").data as Sides<{
      tokenRequests: number;
      distinctTokens: number;
    }> &
      Record<"credential", { callers: number }>;
    for (const section of ["credential", "file"] as const) {
      expect(data[section].fedcred.tokenRequests).toBe(1);
      expect(data[section].fedcred.distinctTokens).toBe(1);
      expect(data[section].azure.tokenRequests).toBe(data.credential.callers);
    }
  });

  it("cached getToken never calls fedcred's assertion function; @azure/identity's twice a call", () => {
    const data = figure("assertion-calls").data as Record<
      "fedcred" | "azure",
      { assertionCalls: number; calls: number }
    >;
    expect(data.fedcred.assertionCalls).toBe(0);
    expect(data.azure.assertionCalls).toBe(2 * data.azure.calls);
  });

  it("many keys: one token request per key to fill the cache, none to read it", () => {
    const data = figure("many-keys").data as { keys: number; tokenRequests: number };
    expect(data.keys).toBe(100);
    expect(data.tokenRequests).toBe(100);
  });

  it("refresh under load: at least one refresh, one request each, no expired token served", () => {
    const data = figure("refresh-under-load").data as Record<
      "fedcred" | "azure",
      { tokenRequests: number; distinctTokens: number; expiredServed: number; calls: number }
    >;
    expect(data.fedcred.tokenRequests).toBeGreaterThanOrEqual(2);
    expect(data.fedcred.tokenRequests).toBeLessThanOrEqual(data.fedcred.distinctTokens + 1);
    expect(data.fedcred.expiredServed).toBe(0);
    expect(data.fedcred.calls).toBeGreaterThan(data.fedcred.tokenRequests);
    expect(data.azure.calls).toBeGreaterThan(0);
  });

  it("hardening: one token request per credential, and the traced request made one span", () => {
    const data = figure("hardening").data as Record<
      "proxy" | "tracing",
      { tokenRequests: number; spans?: number }
    >;
    expect(data.proxy.tokenRequests).toBe(2);
    expect(data.tracing.tokenRequests).toBe(1);
    expect(data.tracing.spans).toBe(1);
  });
});
