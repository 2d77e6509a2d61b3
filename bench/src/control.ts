import type { EntraCounts, EntraName, Lab } from "./lab.js";

async function call(lab: Pick<Lab, "controlUrl">, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${lab.controlUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`emulator control ${path}: ${response.status}`);
  return response.json();
}

/** Token requests and requests each Entra of the lab has served since it started. */
export async function entraCounts(
  lab: Pick<Lab, "controlUrl">,
): Promise<Record<EntraName, EntraCounts>> {
  return (await call(lab, "/counts")) as Record<EntraName, EntraCounts>;
}

/** Makes every token request of `entra` wait `delayMs` before its answer, until cleared. */
export async function delayTokenRequests(
  lab: Pick<Lab, "controlUrl">,
  entra: EntraName,
  delayMs: number,
): Promise<void> {
  await call(lab, "/delay", { entra, delayMs });
}

/** Ends every fault of `entra`. */
export async function clearFaults(lab: Pick<Lab, "controlUrl">, entra: EntraName): Promise<void> {
  await call(lab, "/clear-faults", { entra });
}

/** The difference of two counts. */
export function countsSince(before: EntraCounts, after: EntraCounts): EntraCounts {
  return {
    tokenRequests: after.tokenRequests - before.tokenRequests,
    requests: after.requests - before.requests,
  };
}
