/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The `p`-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Awaited calls of `call` per second over one round of at least `roundMs`. */
async function round(call: (index: number) => Promise<unknown>, roundMs: number): Promise<number> {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    // The clock is read every 256 calls: a cache hit costs less than reading it.
    for (let i = 0; i < 256; i++) await call(calls++);
    elapsed = performance.now() - start;
  } while (elapsed < roundMs);
  return (calls / elapsed) * 1000;
}

/** Awaited calls of `call` per second, over `rounds` of `roundMs` each after one warm-up round. */
export async function throughput(
  call: (index: number) => Promise<unknown>,
  rounds: number,
  roundMs: number,
): Promise<number[]> {
  return (await interleavedThroughput([call], rounds, roundMs))[0]!;
}

/**
 * Like {@link throughput} for several calls, their rounds interleaved (a, b, a, b, ...) after a
 * warm-up round of each, so a busy moment of a shared machine lands on each alike.
 */
export async function interleavedThroughput(
  calls: ReadonlyArray<(index: number) => Promise<unknown>>,
  rounds: number,
  roundMs: number,
): Promise<number[][]> {
  const results: number[][] = calls.map(() => []);
  for (let index = -1; index < rounds; index++) {
    for (const [which, call] of calls.entries()) {
      const perSecond = await round(call, roundMs);
      if (index >= 0) results[which]!.push(perSecond);
    }
  }
  return results;
}
