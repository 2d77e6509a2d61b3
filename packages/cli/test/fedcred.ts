import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Lab } from "@fedcred/emulator";

const bin = join(import.meta.dirname, "..", "dist", "bin.mjs");

/** What a run of the command left behind. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The whole environment of the command: nothing of the test process's leaks in. */
  env: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

/** Runs the built `fedcred` as a subprocess; a run past the timeout is killed and fails the test. */
export function fedcred(args: readonly string[], options: RunOptions): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fedcred ${args.join(" ")} ran over ${timeoutMs} ms. stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A bare environment: no AZURE_*, AWS_*, proxy or colour variables of the machine running the tests. */
export function bareEnvironment(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    // The AWS SDK's chain must not find a profile or ask an instance-metadata endpoint.
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-aws-credentials"),
    AWS_CONFIG_FILE: join(home, "no-aws-config"),
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** The lab's environment (NODE_EXTRA_CA_CERTS included, so the command trusts the lab's CA). */
export function labEnvironment(lab: Lab, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...bareEnvironment(lab.directory), ...lab.env, ...extra };
}

/** A JWT with this header and payload and a made-up signature: `inspect` never verifies. */
export function unsignedJwt(header: object, payload: object): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(payload)}.c2lnbmF0dXJl`;
}
