// The bench process's side: the emulator process, client processes, and what figures return.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { entraCounts } from "./control.js";
import type { EntraCounts, EntraName, Lab } from "./lab.js";

/** One line of the table. */
export interface Row {
  section: Section;
  /** What is measured, and how it reads (units in the values). */
  figure: string;
  fedcred: string;
  azure: string;
  /** fedcred over @azure/identity, or what the target compares, as printed. */
  ratio: string;
  target: string;
  /** Whether the target is met; undefined when the row has no target. */
  met: boolean | undefined;
}

/** A request count the smoke run checks: what was counted, and what it must be. */
export interface CountCheck {
  name: string;
  counted: number;
  /** The count it must be, or a range. */
  expected: number | { min: number; max: number };
}

/** What a figure hands back: its rows, its raw numbers, and the counts to check. */
export interface FigureResult {
  rows: Row[];
  data: Record<string, unknown>;
  checks: CountCheck[];
}

/**
 * A figure: one file under `src/figures`, listed in `src/figures/index.ts`. `run` measures in
 * client processes (through `context.client`) and returns rows for the table.
 */
export interface Figure {
  id: string;
  /** false: left out of `--smoke` (nothing to count, only speed or size). */
  smoke: boolean;
  run(context: BenchContext): Promise<FigureResult>;
}

/** The table section: fedcred's `ClientAssertionCredential`, or a provider against its peer. */
export type Section = "credential" | "file";

export const SECTIONS: Record<Section, string> = {
  credential: "ClientAssertionCredential: @fedcred/core against @azure/identity",
  file: "token file: @fedcred/core + @fedcred/file fromFile against @azure/identity WorkloadIdentityCredential",
};

export interface ClientOptions {
  /** Node flags for the client process (`--expose-gc`). */
  execArgv?: string[];
  /** Environment added to the client process's. */
  env?: Record<string, string>;
}

/** What every figure gets. */
export interface BenchContext {
  readonly lab: Lab;
  /** `--smoke`: small sizes, only to see it run and count requests. */
  readonly smoke: boolean;
  /** The repository's root folder. */
  readonly root: string;
  /**
   * Runs `exportName(params, lab)` of the module at `moduleUrl` (a figure's `import.meta.url`) in
   * a fresh client process and returns its result. The same call twice in a run is measured once.
   */
  client<T>(
    moduleUrl: string,
    exportName: string,
    params: unknown,
    options?: ClientOptions,
  ): Promise<T>;
  /** Token requests and requests Entra has served so far. */
  counts(): Promise<Record<EntraName, EntraCounts>>;
}

const workerPath = fileURLToPath(new URL("./worker.mjs", import.meta.url));
const emulatorPath = fileURLToPath(new URL("./emulator-process.mjs", import.meta.url));

/** Starts the emulator in its own process; resolves once every server listens. */
export function startEmulatorProcess(): Promise<{ lab: Lab; process: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = fork(emulatorPath, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the emulator process ended (${code})`)));
    child.once("message", (message) => {
      const { ready } = message as { ready: Lab };
      resolve({ lab: ready, process: child });
    });
  });
}

/** The client's environment: the CA trusted from the start, no log level, no proxy variables. */
function clientEnvironment(lab: Lab, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, NODE_EXTRA_CA_CERTS: lab.caFile };
  for (const name of Object.keys(env)) {
    if (/^(azure_log_level|https?_proxy|all_proxy|no_proxy)$/i.test(name) && !(name in extra)) {
      delete env[name];
    }
  }
  return env;
}

/** Runs one job in a client process. */
function runClient<T>(
  lab: Lab,
  job: { module: string; export: string; params: unknown },
  options: ClientOptions,
  profileDirectory: string | undefined,
): Promise<T> {
  const profile =
    profileDirectory === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDirectory}`];
  return new Promise((resolve, reject) => {
    const child = fork(workerPath, [JSON.stringify({ ...job, lab })], {
      execArgv: [...profile, ...(options.execArgv ?? [])],
      env: clientEnvironment(lab, options.env),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    child.on("message", (message) => {
      const { result, error } = message as { result?: T; error?: string };
      settled = true;
      if (error !== undefined) reject(new Error(`${job.export}: ${error}`));
      else resolve(result as T);
    });
    child.on("error", reject);
    // "close", not "exit": a loaded machine can deliver the exit before the IPC message it sent.
    child.on("close", (code, signal) => {
      if (!settled) reject(new Error(`${job.export}: client process ended (${signal ?? code})`));
    });
  });
}

export function createContext(options: {
  lab: Lab;
  smoke: boolean;
  root: string;
  profileDirectory?: string;
}): BenchContext {
  const memo = new Map<string, Promise<unknown>>();
  return {
    lab: options.lab,
    smoke: options.smoke,
    root: options.root,
    client<T>(moduleUrl: string, exportName: string, params: unknown, clientOptions = {}) {
      const key = JSON.stringify([moduleUrl, exportName, params, clientOptions]);
      let running = memo.get(key);
      if (running === undefined) {
        running = runClient<T>(
          options.lab,
          { module: moduleUrl, export: exportName, params },
          clientOptions,
          options.profileDirectory,
        );
        memo.set(key, running);
      }
      return running as Promise<T>;
    },
    counts: () => entraCounts(options.lab),
  };
}
