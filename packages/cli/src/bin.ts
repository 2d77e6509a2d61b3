#!/usr/bin/env node
import { run } from "./cli.js";

/** Resolves once everything written so far has been handed to the system (pipes included). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

const code = await run(process.argv.slice(2));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// Exit now rather than when the event loop empties: a pooled connection or a timer of a library
// must never keep `fedcred` running after its work is done.
process.exit(code);
