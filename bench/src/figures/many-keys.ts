// Many keys: one credential holding 10,000 cached tokens (tenants x scopes). Heap growth after a
// full GC, and lookup throughput cycling through every key against the same call on one key.
import type { BenchContext, Figure, FigureResult } from "../context.js";
import { countsSince, entraCounts } from "../control.js";
import { credentialFactory } from "../credentials.js";
import { bytes, count, rate, ratio } from "../format.js";
import type { Lab } from "../lab.js";
import { interleavedThroughput, median } from "../stats.js";

export interface ManyKeysParams {
  tenants: number;
  scopesPerTenant: number;
  rounds: number;
  roundMs: number;
  /** Token requests in flight while the cache fills. */
  concurrency: number;
}

export interface ManyKeysResult {
  keys: number;
  heapGrowth: number;
  /** getToken(scope, { tenantId }) on one key of another tenant, again and again. */
  oneKey: number[];
  /** The same call through every key in turn. */
  manyKeys: number[];
  /** getToken(scope) of the credential's own tenant (the plain call, one of the keys). */
  plainCall: number[];
  /** The plain call on another credential holding that one token, rounds interleaved with it. */
  plainCallOneKey: number[];
  oneKeyMedian: number;
  manyKeysMedian: number;
  plainCallMedian: number;
  plainCallOneKeyMedian: number;
  tokenRequests: number;
}

declare const gc: () => void;

function fullGc(): void {
  for (let i = 0; i < 3; i++) gc();
}

/** In a client process started with --expose-gc: fills the cache, then times lookups. */
export async function measureManyKeys(params: ManyKeysParams, lab: Lab): Promise<ManyKeysResult> {
  const factory = await credentialFactory("fedcred", lab);
  // The credential's own tenant is one of them: the plain call's token is one of the keys, and
  // the cache holds exactly as many tokens as its default bound (10,000).
  const tenants = [lab.tenantId, ...lab.manyKeyTenants].slice(0, params.tenants);
  if (tenants.length < params.tenants) throw new Error(`the lab has ${tenants.length} tenants`);
  // Every call's arguments made up front: the loop allocates nothing of its own.
  const keys = tenants.flatMap((tenantId) =>
    Array.from({ length: params.scopesPerTenant }, (_, index) => ({
      scope: index === 0 ? lab.scope : `https://resource-${index}.fedcred.test/.default`,
      options: { tenantId },
    })),
  );
  // Node's https and TLS modules loaded by another credential: not the cache's growth.
  // It holds the one token of the plain call: the comparison for the plain call with every key.
  const oneKeyCredential = factory.create();
  await oneKeyCredential.getToken(lab.scope);
  const credential = factory.create({ extra: { additionallyAllowedTenants: ["*"] } });
  const before = (await entraCounts(lab)).main;
  fullGc();
  const heapBefore = process.memoryUsage().heapUsed;
  let next = 0;
  await Promise.all(
    Array.from({ length: params.concurrency }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await credential.getToken(key.scope, key.options);
      }
    }),
  );
  fullGc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  const tokenRequests = countsSince(before, (await entraCounts(lab)).main).tokenRequests;
  // A key of another tenant (the call shape of most keys) again and again, against every key
  // in turn: rounds interleaved, so the machine's load lands on both alike.
  const other = keys[keys.length - 1]!;
  const size = keys.length;
  const [oneKey, manyKeys] = await interleavedThroughput(
    [
      () => credential.getToken(other.scope, other.options),
      (index) => {
        const key = keys[index % size]!;
        return credential.getToken(key.scope, key.options);
      },
    ],
    params.rounds,
    params.roundMs,
  );
  const [plainCall, plainCallOneKey] = await interleavedThroughput(
    [() => credential.getToken(lab.scope), () => oneKeyCredential.getToken(lab.scope)],
    params.rounds,
    params.roundMs,
  );
  const after = countsSince(before, (await entraCounts(lab)).main).tokenRequests;
  if (after !== tokenRequests) throw new Error(`lookups made ${after - tokenRequests} requests`);
  return {
    keys: size,
    heapGrowth,
    oneKey: oneKey!,
    manyKeys: manyKeys!,
    plainCall: plainCall!,
    plainCallOneKey: plainCallOneKey!,
    oneKeyMedian: median(oneKey!),
    manyKeysMedian: median(manyKeys!),
    plainCallMedian: median(plainCall!),
    plainCallOneKeyMedian: median(plainCallOneKey!),
    tokenRequests,
  };
}

export function manyKeysParams(context: BenchContext): ManyKeysParams {
  return context.smoke
    ? { tenants: 4, scopesPerTenant: 25, rounds: 1, roundMs: 50, concurrency: 16 }
    : { tenants: 100, scopesPerTenant: 100, rounds: 7, roundMs: 400, concurrency: 32 };
}

/** The client run of this figure (the cost-of-hardening figure reuses it). */
export function runManyKeys(context: BenchContext): Promise<ManyKeysResult> {
  return context.client<ManyKeysResult>(
    import.meta.url,
    "measureManyKeys",
    manyKeysParams(context),
    { execArgv: ["--expose-gc"] },
  );
}

export const manyKeys: Figure = {
  id: "many-keys",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const result = await runManyKeys(context);
    const { tenants, scopesPerTenant } = manyKeysParams(context);
    const keys = `${count(result.keys)} cached tokens (${tenants} tenants x ${scopesPerTenant} scopes)`;
    const lookup = result.manyKeysMedian / result.oneKeyMedian;
    return {
      rows: [
        {
          section: "credential",
          figure: `many keys, ${keys}: heap growth`,
          fedcred: bytes(result.heapGrowth),
          azure: "not measured",
          ratio: "-",
          target: "< 30 MB",
          met: result.heapGrowth < 30e6,
        },
        {
          section: "credential",
          figure: "many keys: lookup throughput, every key in turn vs one key",
          fedcred: `${rate(result.manyKeysMedian)} vs ${rate(result.oneKeyMedian)}`,
          azure: "not measured",
          ratio: ratio(lookup),
          target: "within 2x of one key (>= 0.5x)",
          met: lookup >= 0.5,
        },
        {
          section: "credential",
          figure:
            "many keys: a call naming another tenant (options.tenantId) vs the plain call, one key each",
          fedcred: `${rate(result.oneKeyMedian)} vs ${rate(result.plainCallMedian)}`,
          azure: "not measured",
          ratio: ratio(result.oneKeyMedian / result.plainCallMedian),
          target: "-",
          met: undefined,
        },
      ],
      data: { ...result },
      checks: [
        {
          name: `fedcred token requests to fill ${result.keys} keys`,
          counted: result.tokenRequests,
          expected: tenants * scopesPerTenant,
        },
      ],
    };
  },
};
