// Refresh under load: callers loop on one credential across proactive refreshes of short-lived
// tokens (the lab's second Entra), while every token request after the first takes REFRESH_DELAY_MS
// at the emulator. A caller that waited for a refresh waits at least that long.
import type { BenchContext, Figure, FigureResult } from "../context.js";
import { clearFaults, countsSince, delayTokenRequests, entraCounts } from "../control.js";
import { credentialFactory, type Library } from "../credentials.js";
import { count, ms, ratio } from "../format.js";
import type { Lab } from "../lab.js";

/** How long a refresh takes at the emulator. */
export const REFRESH_DELAY_MS = 1000;
/** A wait longer than this is a wait for the refresh. */
const WAIT_BOUND_MS = REFRESH_DELAY_MS / 4;

export interface RefreshParams {
  library: Library;
  callers: number;
  durationMs: number;
}

export interface RefreshResult {
  calls: number;
  maxWait: number;
  /** Calls that took longer than WAIT_BOUND_MS. */
  slowCalls: number;
  /** Tokens handed out whose expiresOnTimestamp, or whose JWT `exp`, had passed. */
  expiredServed: number;
  distinctTokens: number;
  tokenRequests: number;
}

function expiryOfJwt(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const { exp } = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp: number };
  return exp * 1000;
}

/** In a client process: `callers` loops of getToken for `durationMs` after the first token. */
export async function measureRefresh(params: RefreshParams, lab: Lab): Promise<RefreshResult> {
  const factory = await credentialFactory(params.library, lab);
  const before = (await entraCounts(lab)).short;
  const credential = factory.create({ authorityHost: lab.shortLivedAuthorityHost });
  await credential.getToken(lab.scope);
  await delayTokenRequests(lab, "short", REFRESH_DELAY_MS);
  const expiries = new Map<string, number>();
  let calls = 0;
  let maxWait = 0;
  let slowCalls = 0;
  let expiredServed = 0;
  const end = performance.now() + params.durationMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < end) {
      const start = performance.now();
      const token = await credential.getToken(lab.scope);
      const wait = performance.now() - start;
      calls += 1;
      maxWait = Math.max(maxWait, wait);
      if (wait > WAIT_BOUND_MS) slowCalls += 1;
      if (token === null) throw new Error("no token");
      let expiry = expiries.get(token.token);
      if (expiry === undefined) {
        expiry = Math.min(expiryOfJwt(token.token), token.expiresOnTimestamp);
        expiries.set(token.token, expiry);
      }
      if (expiry <= Date.now()) expiredServed += 1;
      // A caller does other work between calls: the event loop turns.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  try {
    await Promise.all(Array.from({ length: params.callers }, caller));
  } finally {
    await clearFaults(lab, "short");
  }
  return {
    calls,
    maxWait,
    slowCalls,
    expiredServed,
    distinctTokens: expiries.size,
    tokenRequests: countsSince(before, (await entraCounts(lab)).short).tokenRequests,
  };
}

function params(context: BenchContext, library: Library): RefreshParams {
  return { library, callers: 100, durationMs: context.smoke ? 5000 : 10_000 };
}

export const refreshUnderLoad: Figure = {
  id: "refresh-under-load",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const fedcred = await context.client<RefreshResult>(
      import.meta.url,
      "measureRefresh",
      params(context, "fedcred"),
    );
    const azure = await context.client<RefreshResult>(
      import.meta.url,
      "measureRefresh",
      params(context, "azure"),
    );
    const { callers, durationMs } = params(context, "fedcred");
    const lifetime = context.lab.shortLifetimeSeconds;
    const label = `refresh under load (${callers} callers, ${durationMs / 1000} s, ${lifetime} s tokens, refresh takes ${REFRESH_DELAY_MS} ms)`;
    return {
      rows: [
        {
          section: "credential",
          figure: `${label}: max caller wait`,
          fedcred: ms(fedcred.maxWait),
          azure: ms(azure.maxWait),
          ratio: ratio(fedcred.maxWait / azure.maxWait),
          target: `no caller waits for the refresh (max < ${WAIT_BOUND_MS} ms)`,
          met: fedcred.maxWait < WAIT_BOUND_MS,
        },
        {
          section: "credential",
          figure: "refresh under load: expired tokens served",
          fedcred: count(fedcred.expiredServed),
          azure: count(azure.expiredServed),
          ratio: "-",
          target: "0",
          met: fedcred.expiredServed === 0,
        },
        {
          section: "credential",
          figure: "refresh under load: token requests / getToken calls",
          fedcred: `${count(fedcred.tokenRequests)} / ${count(fedcred.calls)}`,
          azure: `${count(azure.tokenRequests)} / ${count(azure.calls)}`,
          ratio: "-",
          target: "-",
          met: undefined,
        },
      ],
      data: { fedcred, azure },
      checks: [
        // The first token, then one request per refresh: every refreshed token reached the callers
        // but perhaps the last one, still in flight when the loop ended.
        {
          name: "fedcred token requests across refreshes (distinct tokens served, +1 in flight)",
          counted: fedcred.tokenRequests,
          expected: { min: Math.max(2, fedcred.distinctTokens), max: fedcred.distinctTokens + 1 },
        },
        { name: "fedcred expired tokens served", counted: fedcred.expiredServed, expected: 0 },
      ],
    };
  },
};
