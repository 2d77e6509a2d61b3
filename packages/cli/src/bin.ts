#!/usr/bin/env node
import { run } from "./cli.js";

// A reader that went away (`fedcred doctor | head -1`) is not an error of ours: stop quietly,
// as Unix tools do, instead of an unhandled EPIPE and a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

/** Resolves once everything written so far has been handed to the system (pipes included). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

const code = await run(process.argv.slice(2));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// Exit now rather than when the event loop empties: a pooled connection or a timer of a library
// must never keep `fedcred` running after its work is done.
process.exit(code);
