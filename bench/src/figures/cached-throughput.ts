// Cached getToken throughput: one credential, warm cache, a tight loop of awaited calls.
// The client function also serves the cost-of-hardening figure (variants).
import type { BenchContext, Figure, FigureResult, Row, Section } from "../context.js";
import { countsSince, entraCounts } from "../control.js";
import {
  type AssertionSource,
  type BenchCredential,
  credentialFactory,
  type Library,
} from "../credentials.js";
import { rate, ratio } from "../format.js";
import type { Lab } from "../lab.js";
import { interleavedThroughput, median, throughput } from "../stats.js";

export interface CachedParams {
  library: Library;
  source: AssertionSource;
  rounds: number;
  roundMs: number;
  /** plain, or tracing on (OpenTelemetry registered, tracingOptions passed). */
  variant?: "plain" | "tracing";
}

export interface CachedResult {
  perSecond: number[];
  median: number;
  tokenRequests: number;
  /** Spans OpenTelemetry recorded (variant "tracing"). */
  spans?: number;
  /**
   * The same loop awaiting an already settled promise, in the same process: the most any awaited
   * call can reach there (an async context manager slows every await, not only the library's).
   */
  ceiling: number;
  /** Assertion function calls during the timed loop. */
  assertionCalls: number;
  calls: number;
}

/** In a client process: the calls per second of a warm credential. */
export async function measureCached(params: CachedParams, lab: Lab): Promise<CachedResult> {
  let options: Record<string, unknown> | undefined;
  let finishedSpans: (() => number) | undefined;
  if (params.variant === "tracing") {
    // Registered before the library loads @azure/core-tracing, as an application does.
    const { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } = await import(
      "@opentelemetry/sdk-trace-node"
    );
    const { registerInstrumentations } = await import("@opentelemetry/instrumentation");
    const { createAzureSdkInstrumentation } = await import(
      "@azure/opentelemetry-instrumentation-azure-sdk"
    );
    const { context } = await import("@opentelemetry/api");
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider.register();
    registerInstrumentations({
      instrumentations: [createAzureSdkInstrumentation()],
      tracerProvider: provider,
    });
    // What an Azure SDK client passes on every call.
    options = { tracingOptions: { tracingContext: context.active() } };
    finishedSpans = () => exporter.getFinishedSpans().length;
  }
  const factory = await credentialFactory(params.library, lab, params.source);
  const before = await entraCounts(lab);
  const credential: BenchCredential = factory.create();
  await credential.getToken(lab.scope, options);
  const requested = countsSince(before.main, (await entraCounts(lab)).main).tokenRequests;
  const callsBefore = factory.assertionCalls;
  let calls = 0;
  const perSecond = await throughput(
    () => {
      calls += 1;
      return credential.getToken(lab.scope, options);
    },
    params.rounds,
    params.roundMs,
  );
  const settled = Promise.resolve();
  const ceiling = median(await throughput(() => settled, params.rounds, params.roundMs));
  const after = countsSince(before.main, (await entraCounts(lab)).main).tokenRequests;
  if (after !== requested) throw new Error(`cached calls made ${after - requested} token requests`);
  return {
    perSecond,
    median: median(perSecond),
    ceiling,
    tokenRequests: after,
    assertionCalls: factory.assertionCalls - callsBefore,
    calls,
    ...(finishedSpans ? { spans: finishedSpans() } : {}),
  };
}

export interface CachedPairParams {
  rounds: number;
  roundMs: number;
}

export interface CachedPairResult {
  plain: number[];
  proxy: number[];
  plainMedian: number;
  proxyMedian: number;
  tokenRequests: number;
}

/**
 * In a client process: two warm fedcred credentials, one plain and one with a proxy configured
 * (loopback is never proxied: the token still comes direct), their rounds interleaved.
 */
export async function measureProxyPair(
  params: CachedPairParams,
  lab: Lab,
): Promise<CachedPairResult> {
  const factory = await credentialFactory("fedcred", lab);
  const before = (await entraCounts(lab)).main;
  const plain = factory.create();
  const proxied = factory.create({
    extra: { proxyOptions: { host: "http://proxy.fedcred.test", port: 3128 } },
  });
  await plain.getToken(lab.scope);
  await proxied.getToken(lab.scope);
  const [plainRounds, proxyRounds] = await interleavedThroughput(
    [() => plain.getToken(lab.scope), () => proxied.getToken(lab.scope)],
    params.rounds,
    params.roundMs,
  );
  return {
    plain: plainRounds!,
    proxy: proxyRounds!,
    plainMedian: median(plainRounds!),
    proxyMedian: median(proxyRounds!),
    tokenRequests: countsSince(before, (await entraCounts(lab)).main).tokenRequests,
  };
}

/** The sizes of a cached-throughput run, full or smoke. */
export function cachedParams(
  context: BenchContext,
  library: Library,
  source: AssertionSource,
  variant: CachedParams["variant"] = "plain",
): CachedParams {
  return {
    library,
    source,
    variant,
    rounds: context.smoke ? 1 : 7,
    roundMs: context.smoke ? 50 : 400,
  };
}

export const cachedThroughput: Figure = {
  id: "cached-throughput",
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
      const fedcred = await context.client<CachedResult>(
        import.meta.url,
        "measureCached",
        cachedParams(context, "fedcred", source),
      );
      const azure = await context.client<CachedResult>(
        import.meta.url,
        "measureCached",
        cachedParams(context, "azure", source),
      );
      const times = fedcred.median / azure.median;
      rows.push({
        section,
        figure: `cached getToken throughput (median of ${fedcred.perSecond.length} rounds)`,
        fedcred: rate(fedcred.median),
        azure: rate(azure.median),
        ratio: ratio(times),
        target: ">= 100x and > 1M/s",
        met: times >= 100 && fedcred.median > 1e6,
      });
      data[section] = { fedcred, azure };
      checks.push(
        {
          name: `${section}: fedcred token requests for a warm loop`,
          counted: fedcred.tokenRequests,
          expected: 1,
        },
        {
          name: `${section}: @azure/identity token requests for a warm loop`,
          counted: azure.tokenRequests,
          expected: 1,
        },
      );
    }
    return { rows, data, checks };
  },
};
