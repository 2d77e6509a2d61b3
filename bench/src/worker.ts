// A client process: runs one measurement (an exported function of a figure module) and sends
// its result to the bench. Started with NODE_EXTRA_CA_CERTS set to the emulator's CA, so both
// libraries trust the emulator's Entra from the start, as they would trust a real one.
import type { Lab } from "./lab.js";

interface Job {
  module: string;
  export: string;
  params: unknown;
  lab: Lab;
}

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
try {
  const module = (await import(job.module)) as Record<string, unknown>;
  const measure = module[job.export];
  if (typeof measure !== "function") throw new Error(`${job.module} has no ${job.export}`);
  const result = await measure(job.params, job.lab);
  process.send?.({ result }, () => process.exit(0));
} catch (error) {
  const describe = (value: unknown): string =>
    value instanceof Error
      ? `${value.stack ?? value.message}${value.cause === undefined ? "" : `\ncaused by ${describe(value.cause)}`}`
      : String(value);
  process.send?.({ error: describe(error) }, () => process.exit(1));
}
