import { inspect } from "node:util";

/**
 * The stable codes of {@link CredentialUnavailableError}.
 *
 * @example
 * ```ts
 * import type { CredentialUnavailableCode } from "@fedcred/core";
 *
 * const retryLater: CredentialUnavailableCode[] = ["assertion_unavailable", "assertion_expired"];
 * ```
 */
export type CredentialUnavailableCode =
  | "missing_configuration"
  | "invalid_configuration"
  | "tenant_not_allowed"
  | "assertion_unavailable"
  | "assertion_expired"
  | "credential_closed";

/**
 * The stable codes of {@link AuthenticationError}.
 *
 * @example
 * ```ts
 * import type { AuthenticationErrorCode } from "@fedcred/core";
 *
 * const transient: AuthenticationErrorCode[] = ["token_request_failed"];
 * ```
 */
export type AuthenticationErrorCode =
  | "token_request_rejected"
  | "token_request_failed"
  | "invalid_token_response"
  | "redirect_refused"
  | "tls_error"
  | "throttled"
  | "assertion_failed"
  | "invalid_assertion";

/**
 * The parsed error answer of the Entra ID token endpoint. It holds no secret.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "@fedcred/core";
 *
 * function codesOf(error: unknown): number[] {
 *   return AuthenticationError.isInstance(error) ? (error.errorResponse?.errorCodes ?? []) : [];
 * }
 * ```
 */
export interface TokenErrorResponse {
  /** The OAuth error, such as `invalid_client`. */
  error: string;
  /** Entra's text, beginning `AADSTSnnnn:`. Codes are stable, texts are not: match `errorCodes`. */
  errorDescription: string;
  /** The AADSTS codes, such as `[700213]`. */
  errorCodes: number[];
  correlationId?: string;
  traceId?: string;
  timestamp?: string;
  errorUri?: string;
}

/**
 * What an {@link AuthenticationError} carries besides its message and code.
 *
 * @example
 * ```ts
 * import { AuthenticationError, type AuthenticationErrorDetails } from "@fedcred/core";
 *
 * const details: AuthenticationErrorDetails = { statusCode: 503, clientRequestId: "6f1c..." };
 * throw new AuthenticationError("The token endpoint is unavailable.", "token_request_failed", details);
 * ```
 */
export interface AuthenticationErrorDetails {
  statusCode?: number | undefined;
  errorResponse?: TokenErrorResponse | undefined;
  clientRequestId?: string | undefined;
  retryAfterInMs?: number | undefined;
  cause?: unknown;
}

const MARKER = Symbol.for("fedcred.error");

/**
 * The base of every error fedcred throws. Each subclass has a `name` that Azure SDK code
 * understands and a stable `code` for programs. Its message, `JSON.stringify` and
 * `util.inspect` never hold an assertion, an access token or a key.
 *
 * @example
 * ```ts
 * import { FedcredError } from "@fedcred/core";
 *
 * try {
 *   await credential.getToken("https://storage.azure.com/.default");
 * } catch (error) {
 *   if (FedcredError.isInstance(error)) console.error(error.code, error.message);
 * }
 * ```
 */
export class FedcredError extends Error {
  /** A stable, machine-readable code. */
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** `true` for fedcred errors, also across duplicated installs of the package. */
  static isInstance(error: unknown): error is FedcredError {
    return typeof error === "object" && error !== null && MARKER in error;
  }

  /** What `JSON.stringify` prints: the name, code and message, and nothing else. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

// util.inspect would otherwise print every own property, causes included; keep it to the stack and code.
Object.defineProperty(FedcredError.prototype, inspect.custom, {
  value(this: FedcredError): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n  code: ${JSON.stringify(this.code)}`;
  },
});

/**
 * The credential cannot try here: configuration is missing or invalid, the tenant is not
 * allowed, or the assertion source is not present. Credential chains move on to the next one.
 *
 * @example
 * ```ts
 * import { CredentialUnavailableError } from "@fedcred/core";
 *
 * throw new CredentialUnavailableError(
 *   "No token file: set options.path or AZURE_FEDERATED_TOKEN_FILE.",
 *   "missing_configuration",
 * );
 * ```
 */
export class CredentialUnavailableError extends FedcredError {
  declare readonly code: CredentialUnavailableCode;

  constructor(message: string, code: CredentialUnavailableCode, options?: { cause?: unknown }) {
    super(message, code, options);
    this.name = "CredentialUnavailableError";
  }

  /** `true` for a {@link CredentialUnavailableError}, also across duplicated installs. */
  static override isInstance(error: unknown): error is CredentialUnavailableError {
    return FedcredError.isInstance(error) && error.name === "CredentialUnavailableError";
  }
}

/**
 * Entra ID or the network refused to issue a token, or the assertion source failed.
 * `statusCode` and `errorResponse` hold what Entra answered, when it answered.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "@fedcred/core";
 *
 * try {
 *   await credential.getToken("https://management.azure.com/.default");
 * } catch (error) {
 *   if (AuthenticationError.isInstance(error) && error.errorResponse?.errorCodes.includes(700213)) {
 *     console.error("No federated credential matches this subject:", error.message);
 *   }
 * }
 * ```
 */
export class AuthenticationError extends FedcredError {
  declare readonly code: AuthenticationErrorCode;
  /** The HTTP status of the token endpoint's answer, when there was one. */
  readonly statusCode: number | undefined;
  /** The parsed error body of the token endpoint, when it sent one. */
  readonly errorResponse: TokenErrorResponse | undefined;
  /**
   * The `client-request-id` header of the request that failed (Entra answers it as the
   * correlation id): quote it to Microsoft support.
   */
  readonly clientRequestId: string | undefined;
  /**
   * For `throttled`: milliseconds until requests for this token are sent again. Also set on a
   * failure that started such a pause.
   */
  readonly retryAfterInMs: number | undefined;

  constructor(
    message: string,
    code: AuthenticationErrorCode,
    details: AuthenticationErrorDetails = {},
  ) {
    super(message, code, details);
    this.name = "AuthenticationError";
    this.statusCode = details.statusCode;
    this.errorResponse = details.errorResponse;
    this.clientRequestId = details.clientRequestId;
    this.retryAfterInMs = details.retryAfterInMs;
  }

  /** `true` for an {@link AuthenticationError}, also across duplicated installs. */
  static override isInstance(error: unknown): error is AuthenticationError {
    return FedcredError.isInstance(error) && error.name === "AuthenticationError";
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      statusCode: this.statusCode,
      errorResponse: this.errorResponse,
      clientRequestId: this.clientRequestId,
      retryAfterInMs: this.retryAfterInMs,
    };
  }
}

/**
 * A {@link CredentialUnavailableError} with code `invalid_configuration`: an option, parameter or
 * environment value that cannot be used, named in `message`.
 */
export function invalidConfiguration(
  message: string,
  options?: { cause?: unknown },
): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration", options);
}

/** Why `signal` aborted: its reason when that is an error (a closed credential), else an `AbortError`. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error && signal.reason.name !== "TimeoutError"
    ? signal.reason
    : abortError();
}

/** Builds the `AbortError` the Azure SDK uses when an operation was cancelled. */
export function abortError(message = "The operation was aborted."): Error {
  const error = new Error(message);
  error.name = "AbortError";
  return error;
}
