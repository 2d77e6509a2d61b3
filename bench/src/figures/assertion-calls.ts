// Assertion callback calls per cached getToken: a counter in the assertion function.
import type { BenchContext, Figure, FigureResult } from "../context.js";
import { countsSince, entraCounts } from "../control.js";
import { credentialFactory, type Library } from "../credentials.js";
import type { Lab } from "../lab.js";

export interface AssertionCallsParams {
  library: Library;
  calls: number;
}

export interface AssertionCallsResult {
  calls: number;
  assertionCalls: number;
  perCall: number;
  tokenRequests: number;
}

/** In a client process: one token, then `calls` cached getToken calls, counting the callback. */
export async function measureAssertionCalls(
  params: AssertionCallsParams,
  lab: Lab,
): Promise<AssertionCallsResult> {
  const factory = await credentialFactory(params.library, lab);
  const before = (await entraCounts(lab)).main;
  const credential = factory.create();
  await credential.getToken(lab.scope);
  const first = factory.assertionCalls;
  for (let i = 0; i < params.calls; i++) await credential.getToken(lab.scope);
  const assertionCalls = factory.assertionCalls - first;
  return {
    calls: params.calls,
    assertionCalls,
    perCall: assertionCalls / params.calls,
    tokenRequests: countsSince(before, (await entraCounts(lab)).main).tokenRequests,
  };
}

function params(context: BenchContext, library: Library): AssertionCallsParams {
  return { library, calls: context.smoke ? 100 : 1000 };
}

export const assertionCalls: Figure = {
  id: "assertion-calls",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const fedcred = await context.client<AssertionCallsResult>(
      import.meta.url,
      "measureAssertionCalls",
      params(context, "fedcred"),
    );
    const azure = await context.client<AssertionCallsResult>(
      import.meta.url,
      "measureAssertionCalls",
      params(context, "azure"),
    );
    return {
      rows: [
        {
          section: "credential",
          figure: `assertion callback calls per cached getToken (${fedcred.calls} calls)`,
          fedcred: String(fedcred.perCall),
          azure: String(azure.perCall),
          ratio: "-",
          target: "0",
          met: fedcred.assertionCalls === 0,
        },
      ],
      data: { fedcred, azure },
      checks: [
        {
          name: "fedcred assertion calls on cached getToken",
          counted: fedcred.assertionCalls,
          expected: 0,
        },
        { name: "fedcred token requests", counted: fedcred.tokenRequests, expected: 1 },
        { name: "@azure/identity token requests", counted: azure.tokenRequests, expected: 1 },
      ],
    };
  },
};
