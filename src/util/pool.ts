/** The outcome of one item of a batch: its value, or the error that item raised. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, keeping going when an item
 * fails (its error is returned in its slot), in input order. Why not worker threads: the heavy
 * part of photo work (libvips decode/resize) already runs on libuv's thread pool outside the JS
 * thread, so concurrent async calls use every core without copying pixels between threads.
 *
 * @param items - inputs
 * @param concurrency - calls in flight (>= 1)
 * @param fn - async work per item
 * @param onDone - called after each item (for progress)
 * @returns one outcome per item
 * @example
 * const outcomes = await mapPool(files, 4, (f) => decodeGrey(f));
 */
export async function mapPool<I, T>(
  items: readonly I[],
  concurrency: number,
  fn: (item: I, index: number) => Promise<T>,
  onDone?: (done: number, total: number, outcome: Outcome<T>) => void,
): Promise<Outcome<T>[]> {
  const results = new Array<Outcome<T>>(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await fn(items[i], i) };
      } catch (err) {
        results[i] = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
      done++;
      onDone?.(done, items.length, results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
