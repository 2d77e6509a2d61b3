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

/** Awaited calls of `call` per second, over `rounds` of `roundMs` each after one warm-up round. */
export async function throughput(
  call: (index: number) => Promise<unknown>,
  rounds: number,
  roundMs: number,
): Promise<number[]> {
  const results: number[] = [];
  for (let round = -1; round < rounds; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      // The clock is read every 256 calls: a cache hit costs less than reading it.
      for (let i = 0; i < 256; i++) await call(calls++);
      elapsed = performance.now() - start;
    } while (elapsed < roundMs);
    if (round >= 0) results.push((calls / elapsed) * 1000);
  }
  return results;
}
