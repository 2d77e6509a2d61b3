import type { AssertionContext, AssertionFunc } from "./assertion.js";
import { abortReason, CredentialUnavailableError, invalidConfiguration } from "./errors.js";

/** The label of a source in the chain's messages: its `source` name when it has one (a detected source). */
function labelOf(source: AssertionFunc, index: number): string {
  const named = (source as { source?: unknown }).source;
  return typeof named === "string" && named !== "" ? named : `source ${index + 1}`;
}

/** The first line of an error's message: a chain's summary holds one line per source. */
function firstLine(error: Error): string {
  return (error.message.split("\n", 1)[0] ?? "").trim();
}

/**
 * An assertion function that uses the first of `sources` that is present: it calls them in
 * order and moves on to the next only when one throws (or rejects with) a
 * `CredentialUnavailableError`; any other error (Entra-facing failures, an `AuthenticationError`
 * of a source that is present but refused, an abort) stops the chain and propagates as is.
 *
 * The source that first returned an assertion is kept: every later call goes to it alone, and
 * its errors, a `CredentialUnavailableError` included, propagate. A workload does not change
 * platform while it runs, and falling through to another identity on a passing outage would
 * change what the application is allowed to do without anyone asking for it.
 *
 * @param sources - Assertion functions, tried in this order. At least one.
 * @returns An {@link AssertionFunc}. When every source is unavailable it rejects with a
 *   `CredentialUnavailableError` (`assertion_unavailable`) whose message has one line per source
 *   (`- source 2: The token file /x does not exist ...`); its `cause` is an `AggregateError` of
 *   the sources' errors. `context.abortSignal` is checked before each source and passed to it.
 * @throws {@link CredentialUnavailableError} (`invalid_configuration`) at once when `sources` is
 *   empty or holds something other than a function.
 *
 * @example
 * ```ts
 * import { ClientAssertionCredential, chainAssertions } from "@fedcred/core";
 * import { fromFile } from "@fedcred/file";
 * import { fromGitHubActions } from "@fedcred/github-actions";
 *
 * // The token file in the cluster, the Actions OIDC token in CI.
 * const credential = new ClientAssertionCredential(tenantId, clientId, chainAssertions(
 *   fromFile({ path: "/var/run/secrets/azure/tokens/azure-identity-token" }),
 *   fromGitHubActions(),
 * ));
 * ```
 */
export function chainAssertions(...sources: AssertionFunc[]): AssertionFunc {
  if (sources.length === 0) {
    throw invalidConfiguration("chainAssertions needs at least one assertion source.");
  }
  sources.forEach((source, index) => {
    if (typeof source !== "function") {
      throw invalidConfiguration(
        `chainAssertions takes assertion functions: argument ${index + 1} is ${source === null ? "null" : typeof source}.`,
      );
    }
  });
  let chosen: AssertionFunc | undefined;

  const chained: AssertionFunc = async (context: AssertionContext): Promise<string> => {
    const signal = context?.abortSignal;
    if (chosen !== undefined) return chosen(context);
    const unavailable: { label: string; error: Error }[] = [];
    for (const [index, source] of sources.entries()) {
      if (signal?.aborted) throw abortReason(signal);
      try {
        const assertion = await source(context);
        chosen ??= source;
        return assertion;
      } catch (error) {
        if (!CredentialUnavailableError.isInstance(error)) throw error;
        unavailable.push({ label: labelOf(source, index), error });
      }
    }
    throw new CredentialUnavailableError(
      `No assertion source is available:\n${unavailable
        .map(({ label, error }) => `- ${label}: ${firstLine(error)}`)
        .join("\n")}`,
      "assertion_unavailable",
      {
        cause: new AggregateError(
          unavailable.map(({ error }) => error),
          "Every assertion source was unavailable.",
        ),
      },
    );
  };
  chained.describeRefusal = (codes, claims) => chosen?.describeRefusal?.(codes, claims);
  return chained;
}
