// The figures, in the order of the table. A new figure is one new file here, and one line below.
import type { Figure } from "../context.js";
import { assertionCalls } from "./assertion-calls.js";
import { cachedThroughput } from "./cached-throughput.js";
import { concurrentCallers } from "./concurrent-callers.js";
import { firstToken } from "./first-token.js";
import { fleetRestart } from "./fleet-restart.js";
import { hardening } from "./hardening.js";
import { importCost } from "./import-cost.js";
import { installFootprint } from "./install-footprint.js";
import { manyKeys } from "./many-keys.js";
import { refreshUnderLoad } from "./refresh-under-load.js";

export const figures: readonly Figure[] = [
  cachedThroughput,
  firstToken,
  concurrentCallers,
  assertionCalls,
  importCost,
  installFootprint,
  manyKeys,
  refreshUnderLoad,
  hardening,
  fleetRestart,
];
