import { describe, it, expect } from 'vitest';
import { createHead, readHeadWeights } from '../../src/model/network/head.js';
import { createBranch } from '../../src/model/network/branch.js';
import { exportBranchOnnx, exportHeadOnnx } from '../../src/model/onnx/onnx-export.js';
import { readHeadWeightsOnnx } from '../../src/infer/head-onnx.js';
import { WhaleidError } from '../../src/util/errors.js';

describe('head weights read from head.onnx', () => {
  it('equal the tfjs head weights bit for bit, at the real shape and an odd one', () => {
    for (const o of [{ features: 512, mid: 32, seed: 1 }, { features: 7, mid: 3, seed: 2 }]) {
      const head = createHead(o);
      const want = readHeadWeights(head);
      const got = readHeadWeightsOnnx(exportHeadOnnx(head));
      expect([got.features, got.mid, got.b2, got.b3]).toEqual([want.features, want.mid, want.b2, want.b3]);
      for (const k of ['w1', 'b1', 'w2', 'w3'] as const) expect(Buffer.from(got[k].buffer).equals(Buffer.from(want[k].buffer)), k).toBe(true);
      head.dispose();
    }
  });

  it('refuses a file that is not an exported head, naming it', () => {
    const branch = createBranch({ preset: 'tiny' });
    expect(() => readHeadWeightsOnnx(exportBranchOnnx(branch), 'runs/a/onnx/head.onnx')).toThrow(WhaleidError);
    expect(() => readHeadWeightsOnnx(exportBranchOnnx(branch), 'runs/a/onnx/head.onnx')).toThrow(/^runs\/a\/onnx\/head\.onnx: not a whaleid head/);
    const linear = createHead({ features: 8, mid: 4, activation: 'linear' });
    expect(() => readHeadWeightsOnnx(exportHeadOnnx(linear), 'h.onnx')).toThrow(/h\.onnx: not a whaleid head \(.*sigmoid/);
    branch.dispose();
    linear.dispose();
  });
});
