// The cost of the hardening: cached throughput with a proxy configured, with tracing enabled
// (OpenTelemetry and the Azure SDK instrumentation registered, tracingOptions on every call as
// Azure SDK clients pass them), and with 10,000 keys cached, each against the plain figure.
import type { Figure, FigureResult, Row } from "../context.js";
import { rate, ratio } from "../format.js";
import { type CachedPairResult, type CachedResult, cachedParams } from "./cached-throughput.js";
import { runManyKeys } from "./many-keys.js";

const cachedModule = new URL("./cached-throughput.mjs", import.meta.url).href;

export const hardening: Figure = {
  id: "hardening",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const cached = (variant: "plain" | "tracing") =>
      context.client<CachedResult>(
        cachedModule,
        "measureCached",
        cachedParams(context, "fedcred", "function", variant),
      );
    // The same run as the cached-throughput figure's (memoized within a run).
    const plain = await cached("plain");
    const tracing = await cached("tracing");
    // Same process, rounds interleaved: a plain credential against one with a proxy configured,
    // and the plain call on a credential of one token against one holding 10,000.
    const { rounds, roundMs } = cachedParams(context, "fedcred", "function");
    const proxy = await context.client<CachedPairResult>(cachedModule, "measureProxyPair", {
      rounds,
      roundMs,
    });
    const manyKeys = await runManyKeys(context);
    const rows: Row[] = [];
    const keys = manyKeys.keys.toLocaleString("en-US");
    const variants: [string, number, number, string][] = [
      [
        "a proxy configured (proxyOptions)",
        proxy.proxyMedian,
        proxy.plainMedian,
        "plain, same process",
      ],
      [
        "tracing enabled (OpenTelemetry, tracingOptions on every call)",
        tracing.median,
        plain.median,
        "plain, in its own process",
      ],
      [
        `${keys} keys cached (the plain call's among them)`,
        manyKeys.plainCallMedian,
        manyKeys.plainCallOneKeyMedian,
        "one key, same process",
      ],
    ];
    for (const [label, value, base, baseLabel] of variants) {
      const times = value / base;
      rows.push({
        section: "credential",
        figure: `cost of hardening: cached throughput with ${label}`,
        fedcred: `${rate(value)} vs ${rate(base)} ${baseLabel}`,
        azure: "-",
        ratio: ratio(times),
        target: "within 2x of plain (>= 0.5x)",
        met: times >= 0.5,
      });
    }
    // An async context manager (OpenTelemetry's) slows every await of the process: the loop's
    // ceiling (awaiting a settled promise) shows how much of the drop is fedcred's own.
    const share = tracing.median / tracing.ceiling / (plain.median / plain.ceiling);
    rows.push({
      section: "credential",
      figure:
        "cost of hardening, tracing: share of the loop's ceiling (an awaited settled promise, same process), traced vs plain",
      fedcred: `${(100 * (tracing.median / tracing.ceiling)).toFixed(0)}% of ${rate(tracing.ceiling)} vs ${(100 * (plain.median / plain.ceiling)).toFixed(0)}% of ${rate(plain.ceiling)}`,
      azure: "-",
      ratio: ratio(share),
      target: "-",
      met: undefined,
    });
    return {
      rows,
      data: {
        plain,
        proxy,
        tracing,
        manyKeys: { withKeys: manyKeys.plainCall, oneKey: manyKeys.plainCallOneKey },
      },
      checks: [
        // One token for each of the two credentials, none for the cached calls.
        {
          name: "token requests, plain and proxy configured",
          counted: proxy.tokenRequests,
          expected: 2,
        },
        {
          name: "token requests with tracing enabled",
          counted: tracing.tokenRequests,
          expected: 1,
        },
        // The one token request ran in a span; cache hits make none.
        { name: "spans recorded with tracing enabled", counted: tracing.spans ?? 0, expected: 1 },
      ],
    };
  },
};
