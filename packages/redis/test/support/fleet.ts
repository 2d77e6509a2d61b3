import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const MEMBER: string = fileURLToPath(
  new URL("../fixtures/fleet-member.mjs", import.meta.url),
);

/** What one fleet member printed: its token and the ms from "go" to it, or its error. */
export interface MemberResult {
  token?: string;
  ms?: number;
  error?: string;
  /** The exit code, or the signal that ended it. */
  exit: number | string | null;
  /** The end of what it wrote to stderr (log lines with AZURE_LOG_LEVEL). */
  stderr: string;
}

/** One started member: ready (set up, waiting for "go"), then its result. */
export interface Member {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<MemberResult>;
  go(): void;
}

/** Starts one fleet member: plain node running fixtures/fleet-member.mjs against the built dist. */
export function startMember(env: Record<string, string>, script: string = MEMBER): Member {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    if (stdout.startsWith("ready\n")) markReady();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin?.on("error", () => {});
  const result = new Promise<MemberResult>((resolve) => {
    child.once("exit", (code, signal) => {
      const line = stdout.split("\n").find((candidate) => candidate.startsWith("{"));
      const parsed =
        line === undefined
          ? { error: `no result; stderr: ${stderr.slice(-2000)}` }
          : JSON.parse(line);
      resolve({ ...parsed, exit: signal ?? code, stderr: stderr.slice(-4000) });
    });
  });
  // A member that dies before it is ready must not hang the test.
  result.then(() => markReady());
  return {
    child,
    ready,
    result,
    go: () => {
      child.stdin?.write("go\n");
    },
  };
}

/** Starts `count` members, waits until every one is set up, then tells them all to go at once. */
export async function runFleet(
  count: number,
  env: Record<string, string>,
): Promise<MemberResult[]> {
  const members = Array.from({ length: count }, () => startMember(env));
  await Promise.all(members.map((member) => member.ready));
  for (const member of members) member.go();
  return Promise.all(members.map((member) => member.result));
}
