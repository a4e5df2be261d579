import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { extractFigures, linePlotSvg, markdownTables, plotSeries, summaryTable } from '../../bench/lib/results.js';

// Output in the shapes the benchmark scripts print (numbers made up, shapes copied).
const TRAIN = `Siamese training, kernel preset, tfjs wasm (1 thread(s)); pairs per step 16 (4 at 384 px: wasm memory), same for PyTorch

| input | whaleid photos/s | PyTorch photos/s | whaleid / PyTorch |
|---|---|---|---|
| 96 | 20.00 | 40.00 | 0.500 |
| 192 | 5.00 | 20.00 | 0.250 |`;
const INFER = `bench:infer: kernel branch at 192 px

Branch photos/s (192 px, batch 16)

| engine | threads | photos/s | vs tfjs 4.22 wasm (SIMD) | note |
|---|---|---|---|---|
| tfjs 4.22 wasm (SIMD) | 1 | 30.0 | 1.00x | training engine |
| onnxruntime-node 1.30, our export | 2 | 150 | 5.00x | no spinning |
| PyTorch 1.13 | 2 | - | - | failed: no torch |`;
const LAP = `n=500 uniform: ours 10.0 ms (f32 9.0 ms), scipy 20.0 ms
n=1000 uniform: ours 50.0 ms (f32 45.0 ms), scipy 50.0 ms
n=1000 score: ours 40.0 ms (f32 40.0 ms)

ratio = scipy ms / ours ms (> 1: solveLap is faster)
   n     kind  ours ms`;
const SCORE = `score matrix bench: F=512, mid 32, 2 threads
n=500: whaleid 40000 pairs/s (125250 pairs in 3.1 s; 13,000 photos: 35.2 min); PyTorch 1.13.0 20000 pairs/s (80000 pairs in 4.0 s; 13,000 photos: 70 min); ratio 2.0x; row 0 max |diff| 1.2e-7
n=1000: whaleid 30000 pairs/s (500500 pairs in 16.7 s; 13,000 photos: 46.9 min)`;

describe('extractFigures', () => {
  it('reads an A / B table: figure, peer and ratio per row', () => {
    const f = extractFigures('train', TRAIN);
    expect(f.map((x) => [x.figure, x.ours, x.peer, x.peerValue, x.ratio, x.x])).toEqual([
      ['photos/s at input 96', 20, 'PyTorch', 40, 0.5, 96],
      ['photos/s at input 192', 5, 'PyTorch', 20, 0.25, 192],
    ]);
  });

  it('reads a vs-X table against the named row, keeping text columns in the label', () => {
    const f = extractFigures('infer', INFER);
    expect(f).toHaveLength(2);
    expect(f[0]).toMatchObject({ ours: 150, peer: 'tfjs 4.22 wasm (SIMD), threads 1, note training engine', peerValue: 30, ratio: 5, unit: 'photos/s' });
    expect(f[0].figure).toBe('Branch photos/s (192 px, batch 16): onnxruntime-node 1.30, our export, threads 2, note no spinning');
    expect(f[1]).toMatchObject({ ours: null, ratio: null });
  });

  it('reads the lap and score lines; times give peer/ours, rates ours/peer', () => {
    const lap = extractFigures('lap', LAP);
    expect(lap.map((x) => [x.x, x.curve, x.ours, x.peerValue, x.ratio])).toEqual([[500, 'uniform', 10, 20, 2], [1000, 'uniform', 50, 50, 1], [1000, 'score', 40, null, null]]);
    const score = extractFigures('score', SCORE);
    expect(score.map((x) => [x.x, x.ours, x.peer, x.peerValue, x.ratio])).toEqual([[500, 40000, 'PyTorch 1.13.0', 20000, 2], [1000, 30000, 'PyTorch', null, null]]);
  });

  it('ignores tables of unknown shape and text without figures', () => {
    expect(extractFigures('x', '| a | b |\n|---|---|\n| 1 | 2 |\nnothing here')).toEqual([]);
    expect(markdownTables('| a | b |\n|---|---|\n| 1 | 2 |')).toEqual([{ title: '', rows: [['a', 'b'], ['1', '2']] }]);
  });
});

describe('summaryTable and plots', () => {
  it('writes one markdown row per figure', () => {
    const rows = summaryTable(extractFigures('train', TRAIN));
    expect(rows).toHaveLength(4);
    expect(rows[2]).toBe('| train | photos/s at input 96 | photos/s | 20 | PyTorch | 40 | 0.5x |');
  });

  it('plots ours and the peer per curve when a figure has 2+ sizes, as a decodable PNG', async () => {
    expect(plotSeries(extractFigures('infer', INFER))).toBeNull();
    const p = plotSeries(extractFigures('lap', LAP))!;
    expect(p.series.map((s) => s.name)).toEqual(['solveLap (uniform)', 'scipy linear_sum_assignment (uniform)', 'solveLap (score)']);
    expect(p.series[0].points).toEqual([[500, 10], [1000, 50]]);
    const png = await sharp(Buffer.from(linePlotSvg('bench:lap', 'n', p.unit, p.series))).png().toBuffer();
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 760, 400]);
  });
});
