// Photo throughput of the image pipeline (decode -> crop -> normalise) on the real flukes in
// ../shared/datasets/humpback-kaggle, with the list repeated to ~1,000 photos.
// Peer in the same run: the naive path (full-resolution decode of every photo, no cache).
// Usage: npm run bench:images [-- --rounds 30 --size 384 --concurrency 4]
import { existsSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createImageCache } from '../src/image/image-cache.js';
import { loadCrop, decodeSideFor } from '../src/image/crop.js';
import { mapPool } from '../src/util/pool.js';
import { flagValue } from './lib/args.js';

const opt = (name: string, dflt: number): number => Number(flagValue(name, String(dflt)));
const root = path.resolve(import.meta.dirname, '../../shared/datasets/humpback-kaggle');
const dirs = [path.join(root, 'kaggle2019/sample_flukes'), path.join(root, 'flukebook-examples/images')];
if (!dirs.every((d) => existsSync(d))) {
  console.log(`bench:images skipped: real fluke photos not found under ${root}`);
  process.exit(0);
}
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.jpg')).map((f) => path.join(d, f)));
const size = opt('size', 384);
const concurrency = opt('concurrency', 4);
const rounds = opt('rounds', Math.ceil(1000 / files.length));

async function timed(label: string, makeCache: (round: number) => ReturnType<typeof createImageCache>, n: number): Promise<number> {
  const t0 = performance.now();
  for (let r = 0; r < n; r++) {
    const cache = makeCache(r);
    const out = await mapPool(files, concurrency, (f) => loadCrop(cache, { file: f }, { size }));
    const bad = out.filter((o) => !o.ok);
    if (bad.length) throw new Error(`${label}: ${bad.length} failures`);
  }
  const secs = (performance.now() - t0) / 1000;
  return (n * files.length) / secs;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'whaleid-bench-'));
try {
  const side = decodeSideFor(size);
  console.log(`${files.length} real fluke photos x ${rounds} rounds, crop ${size}px, concurrency ${concurrency}, decoded copy side <= ${side}`);
  // Naive peer: every photo decoded at full resolution, every time.
  const naive = await timed('naive', () => createImageCache({}), Math.max(1, Math.round(rounds / 3)));
  // Cold: a fresh cache each round, so every photo is decoded (reduced) and written.
  const cold = await timed('cold', (r) => createImageCache({ dir: path.join(tmp, `cold-${r}`), maxSide: side }), rounds);
  // Warm: one cache, filled by a first pass that is not timed.
  const warmDir = path.join(tmp, 'warm');
  await timed('fill', () => createImageCache({ dir: warmDir, maxSide: side }), 1);
  const warm = await timed('warm', () => createImageCache({ dir: warmDir, maxSide: side }), rounds);
  const rows = [
    ['naive full decode (peer)', naive],
    ['cold cache (reduced decode + write)', cold],
    ['warm cache', warm],
  ] as const;
  console.log('\n| path | photos/s | vs naive |\n|---|---|---|');
  for (const [name, v] of rows) console.log(`| ${name} | ${v.toFixed(1)} | ${(v / naive).toFixed(2)}x |`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
