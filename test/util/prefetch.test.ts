import { describe, expect, it } from 'vitest';
import { prefetched } from '../../src/util/prefetch.js';

describe('prefetched', () => {
  it('yields every item in order and starts the next one before handing out the current', async () => {
    const started: number[] = [];
    const seen: string[] = [];
    for await (const v of prefetched(4, async (k) => {
      started.push(k);
      return k * 10;
    })) {
      seen.push(`${v}:${started.length}`);
    }
    // when item k is handed out, k + 2 loads have started (all of them for the last one)
    expect(seen).toEqual(['0:2', '10:3', '20:4', '30:4']);
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('calls load(k + 1) only after load(k) resolved', async () => {
    const log: string[] = [];
    const items = prefetched(3, (k) => {
      log.push(`start ${k}`);
      // resolved in a later turn of the event loop than the caller's use of the item before
      return new Promise<number>((resolve) => setImmediate(() => (log.push(`done ${k}`), resolve(k))));
    });
    for await (const _ of items) log.push('use');
    expect(log).toEqual(['start 0', 'done 0', 'start 1', 'use', 'done 1', 'start 2', 'use', 'done 2', 'use']);
  });

  it('holds a failure of the item loading ahead until its turn, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const got: number[] = [];
      const run = async (): Promise<void> => {
        for await (const v of prefetched(3, (k) => (k === 1 ? Promise.reject(new Error('photo 1 unreadable')) : Promise.resolve(k)))) {
          got.push(v);
          await new Promise((r) => setImmediate(r)); // item 1 fails while item 0 is in use
        }
      };
      await expect(run()).rejects.toThrow('photo 1 unreadable');
      expect(got).toEqual([0]);
      // Node reports unhandled rejections once the microtasks are done, before the next turn
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('yields nothing for no items and lets the caller stop early', async () => {
    let calls = 0;
    for await (const _ of prefetched(0, async () => ++calls)) throw new Error('unreachable');
    expect(calls).toBe(0);
    for await (const v of prefetched(5, async (k) => (++calls, k))) if (v === 1) break;
    expect(calls).toBe(3); // 0, 1, and 2 loading ahead when the caller stopped
  });
});
