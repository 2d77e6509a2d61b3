// First token on a new credential: p50 and p95 over fresh credentials, one after another, and the
// floor: a bare keep-alive node:https POST of the same form to the same endpoint.
import type { BenchContext, Figure, FigureResult, Row, Section } from "../context.js";
import { countsSince, entraCounts } from "../control.js";
import { type AssertionSource, credentialFactory, type Library } from "../credentials.js";
import { ms, ratio } from "../format.js";
import type { Lab } from "../lab.js";
import { median, percentile } from "../stats.js";

export interface FirstTokenParams {
  library: Library;
  source: AssertionSource;
  warmup: number;
  count: number;
}

export interface FirstTokenResult {
  times: number[];
  p50: number;
  p95: number;
  /** The floor POST made right before each credential, in the same process. */
  floorTimes: number[];
  floorP50: number;
  floorP95: number;
  /** Token requests Entra counted for the timed credentials (warm-up and floor excluded). */
  tokenRequests: number;
  /** Every request Entra counted for them (discovery documents included). */
  requests: number;
}

/** The form every token request of this figure sends (what fedcred sends). */
function tokenForm(lab: Lab): string {
  return new URLSearchParams({
    grant_type: "client_credentials",
    client_id: lab.clientId,
    scope: lab.scope,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: lab.assertion,
  }).toString();
}

/** The floor: one keep-alive agent, the same POST, the answer read and parsed; each timed. */
async function createFloor(lab: Lab): Promise<{ post(): Promise<number>; close(): void }> {
  const https = await import("node:https");
  const agent = new https.Agent({ keepAlive: true });
  const url = new URL(`${lab.authorityHost}/${lab.tenantId}/oauth2/v2.0/token`);
  const body = tokenForm(lab);
  const post = async (): Promise<number> => {
    const start = performance.now();
    const text = await new Promise<string>((resolve, reject) => {
      const request = https.request(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/x-www-form-urlencoded;charset=UTF-8",
            accept: "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (response) => {
          let answer = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            answer += chunk;
          });
          response.on("end", () =>
            response.statusCode === 200
              ? resolve(answer)
              : reject(new Error(`floor POST: ${response.statusCode} ${answer}`)),
          );
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
    if (typeof (JSON.parse(text) as { access_token?: unknown }).access_token !== "string") {
      throw new Error("floor POST: no access_token");
    }
    return performance.now() - start;
  };
  return { post, close: () => agent.destroy() };
}

/**
 * In a client process: the time from `new Credential()` to its first token, per credential, each
 * right after a floor POST (same process, same moment: the machine's load lands on both alike).
 */
export async function measureFirstToken(
  params: FirstTokenParams,
  lab: Lab,
): Promise<FirstTokenResult> {
  const factory = await credentialFactory(params.library, lab, params.source);
  const floor = await createFloor(lab);
  const times: number[] = [];
  const floorTimes: number[] = [];
  let before = (await entraCounts(lab)).main;
  for (let i = 0; i < params.warmup + params.count; i++) {
    if (i === params.warmup) before = (await entraCounts(lab)).main;
    const floorTime = await floor.post();
    const start = performance.now();
    const credential = factory.create();
    const token = await credential.getToken(lab.scope);
    const time = performance.now() - start;
    if (token === null) throw new Error("no token");
    // Left open, as @azure/identity's (which have no close()): closing a fedcred credential
    // closes the idle connections it used, which the next credential would reuse.
    if (i >= params.warmup) {
      times.push(time);
      floorTimes.push(floorTime);
    }
  }
  floor.close();
  const counted = countsSince(before, (await entraCounts(lab)).main);
  return {
    times,
    p50: median(times),
    p95: percentile(times, 95),
    floorTimes,
    floorP50: median(floorTimes),
    floorP95: percentile(floorTimes, 95),
    // The floor's POSTs are token requests too, one per credential.
    tokenRequests: counted.tokenRequests - floorTimes.length,
    requests: counted.requests - floorTimes.length,
  };
}

export function firstTokenParams(
  context: BenchContext,
  library: Library,
  source: AssertionSource,
): FirstTokenParams {
  return { library, source, warmup: context.smoke ? 2 : 20, count: context.smoke ? 5 : 200 };
}

export const firstToken: Figure = {
  id: "first-token",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const rows: Row[] = [];
    const data: Record<string, unknown> = {};
    const checks: FigureResult["checks"] = [];
    const sections: [Section, AssertionSource][] = [
      ["credential", "function"],
      ["file", "file"],
    ];
    for (const [section, source] of sections) {
      const run = (library: FirstTokenParams["library"]) =>
        context.client<FirstTokenResult>(
          import.meta.url,
          "measureFirstToken",
          firstTokenParams(context, library, source),
        );
      const fedcred = await run("fedcred");
      const azure = await run("azure");
      const n = fedcred.times.length;
      // Each against the floor POSTs of its own process, made right before each credential.
      const overhead = {
        fedcred: fedcred.p50 - fedcred.floorP50,
        azure: azure.p50 - azure.floorP50,
      };
      const overheadRatio = overhead.fedcred / overhead.azure;
      rows.push(
        {
          section,
          figure: `first token on a new credential, p50 (${n} fresh credentials)`,
          fedcred: ms(fedcred.p50),
          azure: ms(azure.p50),
          ratio: ratio(fedcred.p50 / azure.p50),
          target: "-",
          met: undefined,
        },
        {
          section,
          figure: "first token on a new credential, p95",
          fedcred: ms(fedcred.p95),
          azure: ms(azure.p95),
          ratio: ratio(fedcred.p95 / azure.p95),
          target: "-",
          met: undefined,
        },
        {
          section,
          figure: `floor: bare keep-alive node:https POST of the same form, p50 / p95 (one before each credential, same process)`,
          fedcred: `${ms(fedcred.floorP50)} / ${ms(fedcred.floorP95)}`,
          azure: `${ms(azure.floorP50)} / ${ms(azure.floorP95)}`,
          ratio: "-",
          target: "-",
          met: undefined,
        },
        {
          section,
          figure: "first token: client overhead at p50 (p50 minus floor p50)",
          fedcred: ms(overhead.fedcred),
          azure: ms(overhead.azure),
          ratio: ratio(overheadRatio),
          target: "<= 0.5x",
          met: overheadRatio <= 0.5,
        },
      );
      data[section] = { fedcred, azure, overhead };
      checks.push(
        {
          name: `${section}: fedcred token requests for ${n} fresh credentials`,
          counted: fedcred.tokenRequests,
          expected: n,
        },
        {
          name: `${section}: @azure/identity token requests for ${n} fresh credentials`,
          counted: azure.tokenRequests,
          expected: n,
        },
      );
    }
    return { rows, data, checks };
  },
};
