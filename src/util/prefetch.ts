/**
 * Loading the next item while the caller works on the current one: the training loops' way of
 * keeping the image pipeline busy while an engine computes off the JS thread.
 */

/**
 * Yields `load(0) .. load(count - 1)` in order, each awaited, with the next one already started
 * when the current one is handed out. `load(k + 1)` is called only after `load(k)` has resolved,
 * so random draws inside `load` happen in index order, as in a plain loop. A failure of the
 * item loading ahead is held until that item's turn (never an unhandled rejection), and the
 * caller may stop early: what was loading ahead is then dropped.
 *
 * @param count - number of items
 * @param load - starts loading item k
 * @returns the loaded items, in order
 * @example
 * for await (const batch of prefetched(steps, (k) => loadBatch(k))) await engine.step(batch);
 */
export async function* prefetched<T>(count: number, load: (k: number) => Promise<T>): AsyncGenerator<T, void, undefined> {
  let next = count > 0 ? ahead(load(0)) : null;
  for (let k = 0; k < count; k++) {
    const current = await next!;
    next = k + 1 < count ? ahead(load(k + 1)) : null;
    yield current;
  }
}

/** The same promise, with a rejection marked handled until someone awaits it. */
function ahead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
