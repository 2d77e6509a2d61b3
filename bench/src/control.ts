import { request } from "node:http";
import type { EntraCounts, EntraName, Lab } from "./lab.js";

/**
 * One call to the emulator's control server, on a connection of its own: a client's tight loop
 * starves its event loop, so a kept-alive connection could be closed by the server unnoticed.
 */
function call(lab: Pick<Lab, "controlUrl">, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${lab.controlUrl}${path}`,
      {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        agent: false,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => {
          if (response.statusCode !== 200) {
            reject(new Error(`emulator control ${path}: ${response.statusCode} ${text}`));
          } else resolve(JSON.parse(text));
        });
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body === undefined ? undefined : JSON.stringify(body));
  });
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
