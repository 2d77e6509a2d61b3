// The cost of the hardening: cached throughput with a proxy configured, with tracing enabled
// (OpenTelemetry and the Azure SDK instrumentation registered, tracingOptions on every call as
// Azure SDK clients pass them), and with 10,000 keys cached, each against the plain figure.
import type { Figure, FigureResult, Row } from "../context.js";
import { rate, ratio } from "../format.js";
import { type CachedResult, cachedParams } from "./cached-throughput.js";
import { runManyKeys } from "./many-keys.js";

const cachedModule = new URL("./cached-throughput.mjs", import.meta.url).href;

export const hardening: Figure = {
  id: "hardening",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const cached = (variant: "plain" | "proxy" | "tracing") =>
      context.client<CachedResult>(
        cachedModule,
        "measureCached",
        cachedParams(context, "fedcred", "function", variant),
      );
    // The same run as the cached-throughput figure's (memoized within a run).
    const plain = await cached("plain");
    const proxy = await cached("proxy");
    const tracing = await cached("tracing");
    const manyKeys = await runManyKeys(context);
    const rows: Row[] = [];
    const variants: [string, number][] = [
      ["a proxy configured (proxyOptions)", proxy.median],
      ["tracing enabled (OpenTelemetry, tracingOptions on every call)", tracing.median],
      [
        `${manyKeys.keys.toLocaleString("en-US")} keys cached (the plain call's among them)`,
        manyKeys.plainCallMedian,
      ],
    ];
    for (const [label, value] of variants) {
      const times = value / plain.median;
      rows.push({
        section: "credential",
        figure: `cost of hardening: cached throughput with ${label}`,
        fedcred: `${rate(value)} vs ${rate(plain.median)} plain`,
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
      data: { plain, proxy, tracing, manyKeys: manyKeys.plainCallMedian },
      checks: [
        {
          name: "token requests with a proxy configured",
          counted: proxy.tokenRequests,
          expected: 1,
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
