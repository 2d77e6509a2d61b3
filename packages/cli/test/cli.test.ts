import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bareEnvironment, fedcred, unsignedJwt } from "./fedcred.js";

const env = bareEnvironment(mkdtempSync(join(tmpdir(), "fedcred-cli-")));
const COMMANDS = ["token", "inspect", "doctor", "demo"];

describe("fedcred's command line", () => {
  it("--help lists every command, exits 0, and writes only to stdout", async () => {
    const run = await fedcred(["--help"], { env });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    for (const command of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(run.stdout).toContain("Examples:");
  });

  it.each(COMMANDS)("%s --help shows its usage, options and examples", async (command) => {
    const run = await fedcred([command, "--help"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: fedcred ${command}`));
    expect(run.stdout).toContain("--json");
    expect(run.stdout).toContain("Examples:");
    expect(run.stdout).toMatch(new RegExp(`^  fedcred ${command}`, "m"));
    // -h and `fedcred help COMMAND` say the same.
    expect((await fedcred([command, "-h"], { env })).stdout).toBe(run.stdout);
    expect((await fedcred(["help", command], { env })).stdout).toBe(run.stdout);
  });

  it.each(COMMANDS)(
    "%s refuses an unknown option with exit 2 and a pointer to --help",
    async (command) => {
      const run = await fedcred([command, "--no-such-option"], { env });
      expect(run.code).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain("Unknown option '--no-such-option'.");
      expect(run.stderr).toContain(`Run 'fedcred ${command} --help' for usage and examples.`);
    },
  );

  it("refuses an unknown command, and no command at all, with exit 2", async () => {
    const unknown = await fedcred(["tokens"], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      "Unknown command 'tokens'. Commands: token, inspect, doctor, demo.",
    );
    const none = await fedcred([], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage: fedcred <command>");
    const option = await fedcred(["--json"], { env });
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("options go after the command");
  });

  it("--version prints the package's version", async () => {
    const run = await fedcred(["--version"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("refuses a missing or malformed value with exit 2", async () => {
    const noValue = await fedcred(["token", "--scope"], { env });
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain("--scope");
    const noSource = await fedcred(["token", "--scope", "https://storage.azure.com/.default"], {
      env,
    });
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain("--source is required.");
    const badSource = await fedcred(["token", "--scope", "s/.default", "--source", "gcp"], { env });
    expect(badSource.code).toBe(2);
    expect(badSource.stderr).toContain('Unknown --source "gcp"');
    const both = await fedcred(["token", "--raw", "--json", "--scope", "s", "--source", "file"], {
      env,
    });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("Pass --raw or --json, not both.");
    const extra = await fedcred(["doctor", "extra"], { env });
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('Unexpected argument: "extra".');
    const timeout = await fedcred(["doctor", "--timeout", "soon"], { env });
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain("--timeout must be a number of seconds");
  });
});

describe("a reader that goes away", () => {
  it("ends quietly with 0, not an EPIPE stack trace, when stdout's reader closes early", async () => {
    const { spawn } = await import("node:child_process");
    const home = mkdtempSync(join(tmpdir(), "fedcred-cli-epipe-"));
    const bin = join(import.meta.dirname, "..", "dist", "bin.mjs");
    const token = join(home, "token.jwt");
    writeFileSync(
      token,
      unsignedJwt(
        { alg: "RS256" },
        { iss: "https://issuer.test", sub: "a", aud: "b", exp: 4102444800 },
      ),
    );
    const child = spawn(process.execPath, [bin, "inspect", token], {
      env: bareEnvironment(home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    // `| head -c 1`: read one chunk, then close the pipe.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
