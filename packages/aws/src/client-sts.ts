import { CredentialUnavailableError } from "@fedcred/core";

/** The module of `@aws-sdk/client-sts`, loaded on first use. */
export type ClientSts = typeof import("@aws-sdk/client-sts");

/**
 * What fedcred uses of an `STSClient` of `@aws-sdk/client-sts` (3.936.0 or newer): pass the
 * `STSClient` itself. Declared here so that the types of this package do not need
 * `@aws-sdk/client-sts` installed. When its resolved `config` has `region` and `credentials`
 * providers, fedcred resolves them before sending, so that their failures are not taken for STS's.
 *
 * @example
 * ```ts
 * import { STSClient } from "@aws-sdk/client-sts";
 * import type { StsClientLike } from "@fedcred/aws";
 *
 * const client: StsClientLike = new STSClient({ region: "eu-west-1" });
 * ```
 */
export interface StsClientLike {
  send(command: never, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  readonly config?: { readonly region?: unknown; readonly credentials?: unknown };
}

/** Where a client's region and credentials come from, for messages. */
export interface ClientOrigin {
  /** The option the region comes from, or `undefined` when the SDK reads AWS_REGION or the profile. */
  region: string | undefined;
  /** `options.clientConfig.credentials`, `options.client's credentials provider`, or the default chain. */
  credentials: string;
  /** Whether the credentials may come from the SDK's default provider chain (as far as fedcred knows). */
  mayBeDefaultChain: boolean;
}

let loading: Promise<ClientSts> | undefined;

/**
 * Imports `@aws-sdk/client-sts` once (it is heavy, and a peer dependency). A missing install, or
 * one from before `GetWebIdentityToken` existed, is a `CredentialUnavailableError` saying what to
 * install.
 */
export function loadClientSts(): Promise<ClientSts> {
  loading ??= import("@aws-sdk/client-sts").then(
    (module) => {
      if (typeof module.GetWebIdentityTokenCommand !== "function") {
        throw new CredentialUnavailableError(
          "The installed @aws-sdk/client-sts has no GetWebIdentityTokenCommand: npm install @aws-sdk/client-sts@^3.936.0 (the first version with it).",
          "missing_configuration",
        );
      }
      return module;
    },
    (error: unknown) => {
      loading = undefined;
      throw new CredentialUnavailableError(
        `fromAwsWebIdentityToken needs @aws-sdk/client-sts, which could not be loaded (${(error as { code?: string }).code ?? (error as Error).message}): npm install @aws-sdk/client-sts (3.936.0 or newer).`,
        "missing_configuration",
        { cause: error },
      );
    },
  );
  return loading;
}
