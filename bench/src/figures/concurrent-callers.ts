// Concurrent first callers: many getToken calls at once on a new credential. Token requests are
// counted at the emulator; the slowest caller's wait is timed from the moment all were issued.
import type { BenchContext, Figure, FigureResult, Row, Section } from "../context.js";
import { countsSince, entraCounts } from "../control.js";
import { type AssertionSource, credentialFactory, type Library } from "../credentials.js";
import { count, ms, ratio } from "../format.js";
import type { Lab } from "../lab.js";
import { median } from "../stats.js";

export interface ConcurrentParams {
  library: Library;
  source: AssertionSource;
  callers: number;
}

export interface ConcurrentResult {
  slowest: number;
  median: number;
  tokenRequests: number;
  requests: number;
  /** Distinct access tokens the callers got. */
  distinctTokens: number;
}

/** In a client process: `callers` concurrent first calls on one new credential. */
export async function measureConcurrent(
  params: ConcurrentParams,
  lab: Lab,
): Promise<ConcurrentResult> {
  const factory = await credentialFactory(params.library, lab, params.source);
  // Warm the library's code with another credential and scope (not counted).
  const warm = factory.create();
  await warm.getToken("https://vault.azure.net/.default");
  const before = (await entraCounts(lab)).main;
  const credential = factory.create();
  const waits: number[] = [];
  const tokens = new Set<string>();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: params.callers }, () =>
      credential.getToken(lab.scope).then((token) => {
        waits.push(performance.now() - start);
        if (token) tokens.add(token.token);
      }),
    ),
  );
  const counted = countsSince(before, (await entraCounts(lab)).main);
  return {
    slowest: Math.max(...waits),
    median: median(waits),
    tokenRequests: counted.tokenRequests,
    requests: counted.requests,
    distinctTokens: tokens.size,
  };
}

export function concurrentParams(
  context: BenchContext,
  library: Library,
  source: AssertionSource,
): ConcurrentParams {
  return { library, source, callers: context.smoke ? 20 : 1000 };
}

export const concurrentCallers: Figure = {
  id: "concurrent-callers",
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
      const fedcred = await context.client<ConcurrentResult>(
        import.meta.url,
        "measureConcurrent",
        concurrentParams(context, "fedcred", source),
      );
      const azure = await context.client<ConcurrentResult>(
        import.meta.url,
        "measureConcurrent",
        concurrentParams(context, "azure", source),
      );
      const callers = concurrentParams(context, "fedcred", source).callers;
      const slowest = fedcred.slowest / azure.slowest;
      rows.push(
        {
          section,
          figure: `${count(callers)} concurrent first callers: token requests (at the emulator)`,
          fedcred: count(fedcred.tokenRequests),
          azure: count(azure.tokenRequests),
          ratio: "-",
          target: "exactly 1",
          met: fedcred.tokenRequests === 1,
        },
        {
          section,
          figure: `${count(callers)} concurrent first callers: slowest caller`,
          fedcred: ms(fedcred.slowest),
          azure: ms(azure.slowest),
          ratio: ratio(slowest),
          target: "<= 0.2x",
          met: slowest <= 0.2,
        },
      );
      data[section] = { callers, fedcred, azure };
      checks.push(
        {
          name: `${section}: fedcred token requests for ${callers} concurrent first callers`,
          counted: fedcred.tokenRequests,
          expected: 1,
        },
        {
          name: `${section}: distinct tokens fedcred's ${callers} callers got`,
          counted: fedcred.distinctTokens,
          expected: 1,
        },
        {
          name: `${section}: @azure/identity token requests for ${callers} concurrent first callers`,
          counted: azure.tokenRequests,
          expected: { min: 1, max: callers },
        },
      );
    }
    return { rows, data, checks };
  },
};
