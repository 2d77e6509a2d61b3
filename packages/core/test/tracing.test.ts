import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { createAzureSdkInstrumentation } from "@azure/opentelemetry-instrumentation-azure-sdk";
import {
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { build } from "tsdown";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthenticationError, ClientAssertionCredential } from "../src/index.js";
import { withTokenSpan } from "../src/tracing.js";
import {
  CLIENT,
  entraError,
  fakeJwt,
  SCOPE,
  startTokenServer,
  TENANT,
  type TokenServer,
} from "./token-server.js";

const SPAN_NAME = "ClientAssertionCredential.getToken";
const ASSERTION = fakeJwt({
  iss: "https://kubernetes.default.svc",
  sub: "system:serviceaccount:prod:billing",
  aud: "api://AzureADTokenExchange",
  exp: 4_000_000_000,
});

// Registered before anything loads @azure/core-tracing: the instrumentation hooks its require().
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
const unregister = registerInstrumentations({
  instrumentations: [createAzureSdkInstrumentation()],
  tracerProvider: provider,
});
const tracer = provider.getTracer("fedcred-tests");

afterEach(() => exporter.reset());

afterAll(async () => {
  unregister();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

function tokenSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === SPAN_NAME);
}

/** Every string a span exports: attribute values, event attribute values, the status message. */
function exportedStrings(span: ReadableSpan): string[] {
  const values = [
    ...Object.values(span.attributes),
    ...span.events.flatMap((event) => Object.values(event.attributes ?? {})),
    span.status.message,
  ];
  return values.flat().map(String);
}

function expectNoSecret(span: ReadableSpan, secrets: string[]): void {
  for (const value of exportedStrings(span)) {
    for (const secret of secrets) expect(value).not.toContain(secret);
  }
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

async function withParent<T>(
  run: (parent: Span, tracingContext: Context) => Promise<T>,
): Promise<T> {
  const parent = tracer.startSpan("caller");
  try {
    return await run(parent, trace.setSpan(context.active(), parent));
  } finally {
    parent.end();
  }
}

describe("withTokenSpan", () => {
  it("runs the work in a Microsoft.AAD span, child of the tracing context it is given", async () => {
    let activeInWork: string | undefined;
    const { parent, result } = await withParent(async (parent, tracingContext) => {
      const result = await withTokenSpan({ tracingContext }, async () => {
        activeInWork = trace.getActiveSpan()?.spanContext().spanId;
        return "access-token-secret";
      });
      return { parent, result };
    });

    expect(result).toBe("access-token-secret");
    const [span, ...others] = tokenSpans();
    expect(others).toHaveLength(0);
    expect(span?.name).toBe(SPAN_NAME);
    expect(span?.kind).toBe(SpanKind.INTERNAL);
    expect(span?.attributes).toEqual({ "az.namespace": "Microsoft.AAD" });
    expect(span?.instrumentationScope.name).toBe("@fedcred/core");
    expect(span?.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(parentOf(span as ReadableSpan)).toBe(parent.spanContext().spanId);
    expect(span?.status.code).not.toBe(SpanStatusCode.ERROR);
    // Spans the work starts (an instrumented HTTP request) nest under the token span.
    expect(activeInWork).toBe(span?.spanContext().spanId);
    expectNoSecret(span as ReadableSpan, ["access-token-secret"]);
  });

  it("is the child of the active span when no tracing context is given", async () => {
    const outer = await tracer.startActiveSpan("outer", async (outer) => {
      await withTokenSpan(undefined, async () => "token");
      outer.end();
      return outer;
    });
    expect(tokenSpans().map(parentOf)).toEqual([outer.spanContext().spanId]);
  });

  it("marks the span as an error and rejects with the work's own error", async () => {
    const failure = new AuthenticationError(
      "Entra ID refused the token request (AADSTS700213).",
      "token_request_rejected",
      { statusCode: 400 },
    );
    await withParent(async (_parent, tracingContext) => {
      await expect(withTokenSpan({ tracingContext }, () => Promise.reject(failure))).rejects.toBe(
        failure,
      );
    });
    const [span] = tokenSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes).toEqual({ "az.namespace": "Microsoft.AAD" });
    expect(span?.ended).toBe(true);
  });

  it("turns a synchronous throw of the work into a rejection", async () => {
    const failure = new Error("thrown synchronously");
    const work = (): Promise<string> => {
      throw failure;
    };
    let pending: Promise<string> | undefined;
    expect(() => {
      pending = withTokenSpan(undefined, work);
    }).not.toThrow();
    await expect(pending).rejects.toBe(failure);
    expect(tokenSpans().map((span) => span.status.code)).toEqual([SpanStatusCode.ERROR]);
  });
});

describe("the credential's token requests", () => {
  let server: TokenServer;

  beforeEach(async () => {
    server = await startTokenServer();
  });

  afterEach(async () => {
    await server.close();
  });

  function credential(): ClientAssertionCredential {
    return new ClientAssertionCredential(TENANT, CLIENT, () => ASSERTION, {
      authorityHost: server.authorityHost,
      retryOptions: { maxRetries: 0 },
    });
  }

  it("are one span each, under the caller's span; cache hits add none", async () => {
    const cred = credential();
    const { parent, first, second } = await withParent(async (parent, tracingContext) => {
      const first = await cred.getToken(SCOPE, { tracingOptions: { tracingContext } });
      const second = await cred.getToken(SCOPE, { tracingOptions: { tracingContext } });
      return { parent, first, second };
    });

    expect(server.requests).toHaveLength(1);
    expect(second.token).toBe(first.token);
    const spans = tokenSpans();
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(parentOf(span as ReadableSpan)).toBe(parent.spanContext().spanId);
    expect(span?.attributes).toEqual({ "az.namespace": "Microsoft.AAD" });
    expect(span?.status.code).not.toBe(SpanStatusCode.ERROR);
    expectNoSecret(span as ReadableSpan, [ASSERTION, first.token]);
  });

  it("end with an error status when Entra refuses, with no secret in the span", async () => {
    server.replies.push(entraError(400, "invalid_client", 700213));
    const cred = credential();
    await withParent(async (_parent, tracingContext) => {
      const failure = await cred
        .getToken(SCOPE, { tracingOptions: { tracingContext } })
        .catch((error: unknown) => error);
      expect(AuthenticationError.isInstance(failure)).toBe(true);
    });

    expect(server.requests).toHaveLength(1);
    const spans = tokenSpans();
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.status.message).toContain("700213");
    expectNoSecret(span as ReadableSpan, [ASSERTION, ...ASSERTION.split(".")]);
  });
});

describe("loading @azure/core-tracing", () => {
  const packageDir = fileURLToPath(new URL("..", import.meta.url));

  it("gives spans to a CommonJS application that registered the instrumentation", async () => {
    // The CommonJS build, as tsdown makes it: an import() there would load core-tracing's ESM
    // build, which the instrumentation's require() hook never sees.
    const outDir = `${packageDir}.tmp/tracing-cjs-${process.pid}`;
    await rm(outDir, { recursive: true, force: true });
    try {
      await build({
        config: false,
        cwd: packageDir,
        entry: ["src/tracing.ts"],
        format: ["cjs"],
        platform: "node",
        target: "node20.19",
        outDir,
        dts: false,
        logLevel: "silent",
        define: { __PACKAGE_VERSION__: JSON.stringify("0.0.0-test") },
      });
      await mkdir(outDir, { recursive: true });
      await writeFile(`${outDir}/app.cjs`, CJS_APPLICATION);
      const { stdout } = await promisify(execFile)(process.execPath, [`${outDir}/app.cjs`], {
        cwd: packageDir,
      });
      const spans = JSON.parse(stdout) as Array<{
        name: string;
        attributes: object;
        status: number;
      }>;
      expect(spans).toEqual([
        { name: SPAN_NAME, attributes: { "az.namespace": "Microsoft.AAD" }, status: 0 },
        { name: SPAN_NAME, attributes: { "az.namespace": "Microsoft.AAD" }, status: 2 },
      ]);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });

  it("still runs the work, without a span, when @azure/core-tracing cannot be loaded", async () => {
    // What a bundle that left @azure/core-tracing out sees.
    vi.doMock("node:module", () => ({
      createRequire: () => (id: string) => {
        throw Object.assign(new Error(`Cannot find module '${id}'`), { code: "MODULE_NOT_FOUND" });
      },
    }));
    const lines: string[] = [];
    const log = AzureLogger.log;
    AzureLogger.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
    setLogLevel("warning");
    try {
      vi.resetModules();
      const fresh = await import("../src/tracing.js");
      await expect(fresh.withTokenSpan(undefined, async () => "token")).resolves.toBe("token");
      await expect(fresh.withTokenSpan(undefined, async () => "again")).resolves.toBe("again");
      // The logger loads @azure/logger on its first line.
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      vi.doUnmock("node:module");
      AzureLogger.log = log;
      setLogLevel(undefined as never);
    }
    expect(tokenSpans()).toHaveLength(0);
    const warnings = lines.filter((line) => line.includes("tracing is off"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("Cannot find module '@azure/core-tracing'");
  });
});

const CJS_APPLICATION = `
const { registerInstrumentations } = require("@opentelemetry/instrumentation");
const { createAzureSdkInstrumentation } = require("@azure/opentelemetry-instrumentation-azure-sdk");
const { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require("@opentelemetry/sdk-trace-node");
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
registerInstrumentations({ instrumentations: [createAzureSdkInstrumentation()] });
const { withTokenSpan } = require("./tracing.cjs");
(async () => {
  await withTokenSpan(undefined, async () => "token");
  await withTokenSpan(undefined, async () => { throw new Error("refused"); }).catch(() => {});
  const spans = exporter.getFinishedSpans();
  console.log(JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, status: s.status.code }))));
})();
`;
