// Client-process side: the credentials under test, made the same way for both libraries.
import type { Lab } from "./lab.js";

/** Whose credential: fedcred's, or `@azure/identity`'s. */
export type Library = "fedcred" | "azure";

/**
 * What the assertion comes from: a function (`ClientAssertionCredential` on both sides), or the
 * workload-identity token file (`@fedcred/file`'s `fromFile` against `@azure/identity`'s
 * `WorkloadIdentityCredential`).
 */
export type AssertionSource = "function" | "file";

/** The part of `TokenCredential` the bench uses. */
export interface BenchCredential {
  getToken(
    scopes: string | string[],
    options?: Record<string, unknown>,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface CredentialOptions {
  authorityHost?: string;
  /** Options added to the library's own (proxy, tenants). */
  extra?: Record<string, unknown>;
}

/** Makes fresh credentials of one library; counts the calls of the assertion function. */
export interface CredentialFactory {
  create(options?: CredentialOptions): BenchCredential;
  /** Closes a credential when the library can (fedcred); outside any timing. */
  dispose(credential: BenchCredential): Promise<void>;
  /** Calls of the assertion function so far (source "function" only). */
  readonly assertionCalls: number;
}

/** Loads `library` (not timed) and returns a factory of its credentials. */
export async function credentialFactory(
  library: Library,
  lab: Lab,
  source: AssertionSource = "function",
): Promise<CredentialFactory> {
  let assertionCalls = 0;
  const getAssertion = async (): Promise<string> => {
    assertionCalls += 1;
    return lab.assertion;
  };
  const dispose = async (credential: BenchCredential): Promise<void> => {
    const closable = credential as { close?: () => Promise<void> };
    if (typeof closable.close === "function") await closable.close();
  };
  if (library === "fedcred") {
    const { ClientAssertionCredential } = await import("@fedcred/core");
    const { fromFile } = source === "file" ? await import("@fedcred/file") : { fromFile: null };
    return {
      create: (options = {}) =>
        new ClientAssertionCredential(
          lab.tenantId,
          lab.clientId,
          fromFile === null ? getAssertion : fromFile({ path: lab.tokenFile }),
          { authorityHost: options.authorityHost ?? lab.authorityHost, ...options.extra },
        ) as BenchCredential,
      dispose,
      get assertionCalls() {
        return assertionCalls;
      },
    };
  }
  const identity = await import("@azure/identity");
  return {
    create: (options = {}) => {
      const common = {
        authorityHost: options.authorityHost ?? lab.authorityHost,
        disableInstanceDiscovery: true,
        ...options.extra,
      };
      return (
        source === "file"
          ? new identity.WorkloadIdentityCredential({
              tenantId: lab.tenantId,
              clientId: lab.clientId,
              tokenFilePath: lab.tokenFile,
              ...common,
            })
          : new identity.ClientAssertionCredential(lab.tenantId, lab.clientId, getAssertion, common)
      ) as BenchCredential;
    },
    dispose,
    get assertionCalls() {
      return assertionCalls;
    },
  };
}
