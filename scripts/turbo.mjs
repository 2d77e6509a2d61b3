#!/usr/bin/env node
// `turbo` as the root scripts run it: `node scripts/turbo.mjs run <tasks> [turbo flags]`.
// - stops at once on an unsupported Node.js (scripts/check-node.cjs);
// - puts the Node.js version in every task's hash (FEDCRED_NODE_VERSION, in turbo.json's
//   globalEnv), so a run on Node 22 never replays what Node 20 cached;
// - keeps turbo's telemetry off and, for tests, the AWS SDK's Node-version notice quiet;
// - no colour codes when the output is not a terminal;
// - after a test run, runs the repository's checks (scripts/check-engines.mjs: every runtime
//   dependency accepts our lowest Node line; scripts/check-packages.mjs: every package packs fit
//   to publish), each counted as one test;
// - ends with one line of totals summed from every vitest run: `N passed, N failed, N skipped`.
// The exit code is turbo's.
import { spawn, spawnSync } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import checkNode from "./check-node.cjs";

const unsupported = checkNode.unsupportedNodeMessage(process.version);
if (unsupported) {
  console.error(unsupported);
  process.exit(1);
}

const turbo = fileURLToPath(new URL("../node_modules/turbo/bin/turbo", import.meta.url));
const args = process.argv.slice(2);
const given = (flag) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
const terminal = process.stdout.isTTY === true;

const env = { ...process.env, FEDCRED_NODE_VERSION: process.version };
env.TURBO_TELEMETRY_DISABLED ??= "1";
// Every AWS SDK client warns once per process on Node 20 that SDK releases from 2027 need Node 22:
// news for whoever picks the Node line, not for every test file that makes a client.
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// Some tools colour a pipe too: vitest unless NO_COLOR, attw's tables unless FORCE_COLOR=0.
if (!terminal && env.NO_COLOR === undefined && env.FORCE_COLOR === undefined) {
  env.NO_COLOR = "1";
  env.FORCE_COLOR = "0";
}

const flags = [];
// Our output is a pipe to turbo, so it would choose the plain stream UI and no colour: say so
// explicitly, and keep turbo's colours when we do write to a terminal.
if (!given("--ui")) flags.push("--ui=stream");
if (!given("--color") && !given("--no-color")) flags.push(terminal ? "--color" : "--no-color");

// Before any "--": what follows it goes to the tasks.
const end = args.includes("--") ? args.indexOf("--") : args.length;
const child = spawn(
  process.execPath,
  [turbo, ...args.slice(0, end), ...flags, ...args.slice(end)],
  {
    env,
    stdio: ["inherit", "pipe", "pipe"],
  },
);

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC.
const ansi = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;
// vitest's summary, after turbo's "package:task:" prefix: "Tests  7 failed | 288 passed (295)".
const summary = /^(?:\S+:\S+:)?\s+Tests\s+(\d+ [a-z][a-z ]*(?: \| \d+ [a-z][a-z ]*)*) \(\d+\)$/;
const totals = { passed: 0, failed: 0, skipped: 0 };
let summaries = 0;
// vitest's line for each failed test ("FAIL  |pkg| test/x.test.ts > suite > name"), after turbo's
// prefix: repeated just above the totals, so a log's last lines say what failed.
const failure = /^(?:\S+:\S+:)?\s+FAIL\s+\S/;
const failures = new Map(); // FAIL line -> the first line after it (the error's message)
let lastFailure;

function count(line) {
  const plain = line.replace(ansi, "").trimEnd();
  if (failure.test(plain)) {
    lastFailure = failures.size < 50 && !failures.has(plain) ? plain : undefined;
    if (lastFailure) failures.set(plain, "");
  } else if (lastFailure && /\S/.test(plain.replace(/^\S+:\S+:/, ""))) {
    failures.set(lastFailure, plain.slice(0, 300));
    lastFailure = undefined;
  }
  const match = summary.exec(plain);
  if (!match) return;
  summaries += 1;
  for (const part of match[1].split(" | ")) {
    const [, number, kind] = /^(\d+) (.+)$/.exec(part);
    if (kind === "passed") totals.passed += Number(number);
    else if (kind === "failed") totals.failed += Number(number);
    else if (kind === "skipped" || kind === "todo") totals.skipped += Number(number);
  }
}

/** Copies `from` to `to` as it arrives, and counts each complete line. */
function relay(from, to) {
  let partial = "";
  from.setEncoding("utf8");
  from.on("data", (chunk) => {
    to.write(chunk);
    const lines = (partial + chunk).split(/\r?\n|\r/);
    partial = lines.pop();
    for (const line of lines) count(line);
  });
  from.on("end", () => count(partial));
}
relay(child.stdout, process.stdout);
relay(child.stderr, process.stderr);

// Ctrl-C reaches turbo from the terminal directly; a SIGTERM or SIGHUP sent to us is passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));

/**
 * The repository's own checks, after the tasks of a test run: every runtime dependency accepts
 * our lowest Node line, and every package packs fit to publish. Each counts as one test.
 */
function repositoryChecks() {
  let failed = 0;
  for (const script of ["check-engines.mjs", "check-packages.mjs"]) {
    const run = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
      env,
      stdio: "inherit",
    });
    if (run.status === 0) totals.passed += 1;
    else {
      totals.failed += 1;
      failed += 1;
    }
  }
  return failed;
}

child.on("close", (code, signal) => {
  const checksFailed = args.includes("test") && !signal ? repositoryChecks() : 0;
  if (checksFailed > 0 && code === 0) code = 1;
  if (summaries > 0 || args.includes("test")) {
    if (code !== 0 && totals.failed === 0) {
      console.log("No test failed, but a task did (see turbo's Failed: line above).");
    }
    if (failures.size > 0) {
      const list = [...failures].map(([test, error]) => (error ? `${test}\n  ${error}` : test));
      console.log(`Failed tests:\n${list.join("\n")}`);
    }
    console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  }
  process.exitCode = signal ? 128 + constants.signals[signal] : code;
});
