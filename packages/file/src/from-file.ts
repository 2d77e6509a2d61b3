import { readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import {
  type AssertionContext,
  type AssertionFunc,
  CredentialUnavailableError,
  decodeJwtPayload,
} from "@fedcred/core";

/**
 * The environment variable the workload-identity webhook sets to the projected token file.
 *
 * @example
 * ```ts
 * import { AZURE_FEDERATED_TOKEN_FILE } from "@fedcred/file";
 *
 * console.log(`reading the token from ${process.env[AZURE_FEDERATED_TOKEN_FILE]}`);
 * ```
 */
export const AZURE_FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE";

/**
 * Options of {@link fromFile}.
 *
 * @example
 * ```ts
 * import type { FromFileOptions } from "@fedcred/file";
 *
 * const options: FromFileOptions = { path: "/var/run/secrets/ci/oidc.json", format: "json", field: "value" };
 * ```
 */
export interface FromFileOptions {
  /** The file holding the assertion. Default: `AZURE_FEDERATED_TOKEN_FILE`. */
  path?: string;
  /** `"text"` (default): the whole file, trimmed. `"json"`: the string at `field` of a JSON document. */
  format?: "text" | "json";
  /** With `format: "json"`: the property holding the token; dots name nested properties (`"token.value"`). */
  field?: string;
  /** The pause before the one retry of a missing or empty file: 0 to 60 000 ms. Default 100 ms. */
  retryDelayInMs?: number;
}

/** The longest pause before the retry: a rotation takes milliseconds, not minutes. */
const MAX_RETRY_DELAY_MS = 60_000;

interface ReadOutcome {
  text?: string;
  missing?: NodeJS.ErrnoException;
}

async function readOnce(path: string, signal: AbortSignal | undefined): Promise<ReadOutcome> {
  try {
    const text = (await readFile(path, { encoding: "utf8", signal })).trim();
    return text === "" ? {} : { text };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { missing: error as NodeJS.ErrnoException };
    if ((error as Error).name === "AbortError") throw error;
    throw new CredentialUnavailableError(
      `The token file ${path} cannot be read (${code ?? (error as Error).message}): check the path and the permissions of this process.`,
      "assertion_unavailable",
      { cause: error },
    );
  }
}

function pick(document: unknown, field: string, path: string): string {
  let value: unknown = document;
  for (const part of field.split(".")) {
    value =
      typeof value === "object" && value !== null
        ? (value as Record<string, unknown>)[part]
        : undefined;
  }
  if (typeof value !== "string" || value.trim() === "") {
    throw new CredentialUnavailableError(
      `The JSON token file ${path} has no non-empty string at "${field}": check options.field.`,
      "assertion_unavailable",
    );
  }
  return value.trim();
}

function checkNotExpired(token: string, path: string): void {
  let exp: unknown;
  try {
    exp = decodeJwtPayload(token).exp;
  } catch {
    return;
  }
  if (typeof exp === "number" && exp * 1000 <= Date.now()) {
    throw new CredentialUnavailableError(
      `The token in ${path} expired at ${new Date(exp * 1000).toISOString()}: whatever writes the file (the kubelet, a CI runner) has stopped refreshing it.`,
      "assertion_expired",
    );
  }
}

/**
 * An assertion read from a file: the Kubernetes workload-identity token file, or any OIDC token
 * on disk. The file is read on every call through its unresolved path (the kubelet rotates it
 * by swapping a symlink), and trimmed; a missing or empty file is retried once after a short
 * pause. Configuration mistakes throw at once; I/O happens per call.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential } from "@fedcred/core";
 * import { fromFile } from "@fedcred/file";
 *
 * // AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and AZURE_CLIENT_ID come from the webhook.
 * const credential = new ClientAssertionCredential(
 *   process.env.AZURE_TENANT_ID!,
 *   process.env.AZURE_CLIENT_ID!,
 *   fromFile(),
 * );
 * ```
 */
export function fromFile(options: FromFileOptions = {}): AssertionFunc {
  options ??= {};
  if (options.path != null && typeof options.path !== "string") {
    throw new CredentialUnavailableError(
      `options.path must be the path of the token file as a string, got ${typeof options.path}.`,
      "invalid_configuration",
    );
  }
  const path = options.path || process.env[AZURE_FEDERATED_TOKEN_FILE];
  if (!path) {
    throw new CredentialUnavailableError(
      `No token file is configured: set options.path or the ${AZURE_FEDERATED_TOKEN_FILE} environment variable.`,
      "missing_configuration",
    );
  }
  const format = options.format ?? "text";
  if (format !== "text" && format !== "json") {
    throw new CredentialUnavailableError(
      `options.format must be "text" or "json", got ${JSON.stringify(format)}.`,
      "invalid_configuration",
    );
  }
  const field = options.field;
  if (format === "json" && (typeof field !== "string" || field === "")) {
    throw new CredentialUnavailableError(
      'options.format "json" needs options.field: the property that holds the token.',
      "invalid_configuration",
    );
  }
  const retryDelayInMs = options.retryDelayInMs ?? 100;
  if (
    typeof retryDelayInMs !== "number" ||
    !Number.isInteger(retryDelayInMs) ||
    retryDelayInMs < 0 ||
    retryDelayInMs > MAX_RETRY_DELAY_MS
  ) {
    throw new CredentialUnavailableError(
      `options.retryDelayInMs must be a whole number of milliseconds from 0 to ${MAX_RETRY_DELAY_MS}, got ${typeof retryDelayInMs === "string" ? JSON.stringify(retryDelayInMs) : String(retryDelayInMs)}.`,
      "invalid_configuration",
    );
  }

  return async (context?: AssertionContext): Promise<string> => {
    const signal = context?.abortSignal;
    let outcome = await readOnce(path, signal);
    if (outcome.text === undefined) {
      await delay(retryDelayInMs, undefined, signal ? { signal } : undefined);
      outcome = await readOnce(path, signal);
    }
    if (outcome.text === undefined) {
      throw new CredentialUnavailableError(
        outcome.missing
          ? `The token file ${path} does not exist: check options.path or ${AZURE_FEDERATED_TOKEN_FILE}, and that the volume is mounted.`
          : `The token file ${path} is empty: whatever writes it has not written a token yet.`,
        "assertion_unavailable",
        outcome.missing ? { cause: outcome.missing } : undefined,
      );
    }
    let token = outcome.text;
    if (format === "json") {
      let document: unknown;
      try {
        document = JSON.parse(token);
      } catch {
        throw new CredentialUnavailableError(
          `The token file ${path} is not JSON, but options.format is "json".`,
          "assertion_unavailable",
        );
      }
      token = pick(document, field as string, path);
    }
    checkNotExpired(token, path);
    return token;
  };
}
