/**
 * A bounded closed-loop load: `concurrency` clients each run an operation again and again until the
 * time is up, latencies of the ones that succeeded kept.
 */

/** What a load run measured. */
export interface LoadResult {
  ok: number;
  failed: number;
  /** Milliseconds of each successful operation. */
  latencies: number[];
  /** Wall time of the run. */
  seconds: number;
  /** Failures by message (first 80 characters). */
  errors: Map<string, number>;
}

/**
 * Runs the load.
 *
 * @param o - duration, clients, the operation (given the client's number; throws on failure)
 * @returns counts and latencies
 */
export async function closedLoop(o: { seconds: number; concurrency: number; op: (client: number) => Promise<void> }): Promise<LoadResult> {
  const r: LoadResult = { ok: 0, failed: 0, latencies: [], seconds: 0, errors: new Map() };
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  await Promise.all(Array.from({ length: o.concurrency }, async (_, c) => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await o.op(c);
        r.ok++;
        r.latencies.push(performance.now() - t);
      } catch (e) {
        r.failed++;
        const m = String((e as Error).message).slice(0, 80);
        r.errors.set(m, (r.errors.get(m) ?? 0) + 1);
        // a refused connection fails at once: do not spin
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }));
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}

/**
 * The p-th percentile (nearest rank) of values.
 *
 * @param values - the sample
 * @param p - in [0, 100]
 * @returns the value, or NaN for an empty sample
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
