import { createRequire } from "node:module";
import type * as CoreTracing from "@azure/core-tracing";
import { logger } from "./logger.js";
import { VERSION } from "./version.js";

const SPAN_NAME = "ClientAssertionCredential.getToken";

// undefined: not loaded yet; null: could not be loaded, tokens are requested without spans.
let tracingClient: CoreTracing.TracingClient | null | undefined;

function loadTracingClient(): CoreTracing.TracingClient | null {
  if (tracingClient !== undefined) return tracingClient;
  try {
    // Loaded on the first token request: it costs milliseconds a process that never asks for a
    // token should not pay. Through require, in the ESM build too: OpenTelemetry's Azure SDK
    // instrumentation hooks require() of @azure/core-tracing, and sees an import() only when the
    // application registered an ESM loader hook, which CommonJS applications do not.
    const { createTracingClient } = createRequire(import.meta.url)(
      "@azure/core-tracing",
    ) as typeof CoreTracing;
    tracingClient = createTracingClient({
      namespace: "Microsoft.AAD",
      packageName: "@fedcred/core",
      packageVersion: VERSION,
    });
  } catch (error) {
    // A bundle that left @azure/core-tracing out still gets tokens, without spans.
    tracingClient = null;
    logger.warning(
      `tracing is off: @azure/core-tracing could not be loaded (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return tracingClient;
}

/**
 * Runs `work` in a `ClientAssertionCredential.getToken` span (namespace `Microsoft.AAD`), the
 * child of `tracingOptions.tracingContext` (else of the active context), through
 * `@azure/core-tracing`: the span reaches the instrumenter the application registered
 * (OpenTelemetry's through `@azure/opentelemetry-instrumentation-azure-sdk`) and costs next to
 * nothing without one. It ends with an error status when `work` rejects, and carries no
 * attribute but `az.namespace`. Failures are rejections, never synchronous throws.
 *
 * @example
 * ```ts
 * const token = await withTokenSpan(options.tracingOptions, () => requestToken(key, signal));
 * ```
 */
export async function withTokenSpan<T>(
  tracingOptions: { tracingContext?: unknown } | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const client = loadTracingClient();
  if (client === null) return work();
  const options = { tracingOptions } as { tracingOptions?: CoreTracing.OperationTracingOptions };
  return client.withSpan(SPAN_NAME, options, () => work());
}
