type Level = "error" | "warning" | "info" | "verbose";
type LoggerModule = typeof import("@azure/logger");

/**
 * The `fedcred` logger of `@azure/logger` (`AZURE_LOG_LEVEL=info` shows one line per token
 * request), loaded on first use rather than on import: `@azure/logger` costs more to load than
 * the rest of core together. A CommonJS build loads it with `require` at once; an ES module
 * build with `import()`, holding the first lines until it has loaded (a few microtasks when the
 * application already imported it). Each build reaches the `@azure/logger` instance an
 * application of its own kind configures with `setLogLevel` and `AzureLogger.log`.
 *
 * @example
 * ```ts
 * import { type FedcredLogger, logger } from "@fedcred/core";
 *
 * const log: FedcredLogger = logger;
 * log.info("minted a service-account token for prod/billing");
 * ```
 */
export interface FedcredLogger {
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  verbose(message: string): void;
}

const MAX_HELD_LINES = 1000;
/** What fedcred calls on a logger: one function per level. */
type LevelLogger = Record<Level, (message: string) => void>;
let client: LevelLogger | undefined;
let held: Array<[Level, string]> | undefined;

/** The module format of this build, set by the build (`tsdown.base.ts`). */
declare const __MODULE_FORMAT__: "esm" | "cjs";

function commonJsRequire(): NodeJS.Require | undefined {
  return __MODULE_FORMAT__ === "cjs" ? require : undefined;
}

let loading = false;

/**
 * Starts loading `@azure/logger` (a credential calls it when it is constructed, so the logger is
 * there long before its first token request ends). In the CommonJS build it loads at once.
 */
export function loadLogger(): void {
  if (client !== undefined || loading) return;
  const load = commonJsRequire();
  if (load !== undefined) {
    try {
      client = (load("@azure/logger") as LoggerModule).createClientLogger("fedcred");
    } catch {
      client = builtInLogger();
    }
    return;
  }
  loading = true;
  held = [];
  import("@azure/logger")
    .then(
      (module) => {
        client = module.createClientLogger("fedcred");
      },
      () => {
        client = builtInLogger();
      },
    )
    .finally(() => {
      for (const [heldLevel, heldMessage] of held ?? []) client?.[heldLevel](heldMessage);
      held = undefined;
    });
}

const LEVELS: readonly Level[] = ["error", "warning", "info", "verbose"];

/**
 * Without `@azure/logger` (an optional peer: every Azure SDK application has it), lines go to
 * stderr in its format (`azure:fedcred:info ...`) when `AZURE_LOG_LEVEL` asks for them.
 */
function builtInLogger(): LevelLogger {
  const wanted = LEVELS.indexOf((process.env.AZURE_LOG_LEVEL ?? "").trim().toLowerCase() as Level);
  const line =
    (level: Level) =>
    (message: string): void => {
      if (wanted >= 0 && LEVELS.indexOf(level) <= wanted) {
        process.stderr.write(`azure:fedcred:${level} ${message}\n`);
      }
    };
  return {
    error: line("error"),
    warning: line("warning"),
    info: line("info"),
    verbose: line("verbose"),
  };
}

function emit(level: Level, message: string): void {
  if (client === undefined) loadLogger();
  if (client !== undefined) {
    client[level](message);
    return;
  }
  // Bounded, should @azure/logger take long to load.
  if (held !== undefined && held.length < MAX_HELD_LINES) held.push([level, message]);
}

/**
 * The `fedcred` logger of `@azure/logger`, loaded lazily: `AZURE_LOG_LEVEL=info` shows one line
 * per token request. Providers log through it too. Never log an assertion, a token or a key.
 *
 * @example
 * ```ts
 * import { logger } from "@fedcred/core";
 *
 * logger.warning("AZURE_KUBERNETES_TOKEN_PROXY is set but enableAzureProxy is off: ignoring it");
 * ```
 */
export const logger: FedcredLogger = {
  error: (message) => emit("error", message),
  warning: (message) => emit("warning", message),
  info: (message) => emit("info", message),
  verbose: (message) => emit("verbose", message),
};
