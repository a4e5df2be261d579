// `whaleid doctor` lists the training engines of the machine: wasm always, native with its
// libtorch (version, CUDA support, devices, threads) when built, else why not.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { loadNativeAddon } from '../../src/model/native/native-addon.js';

describe('whaleid doctor', () => {
  it('lists the engines, devices and threads, and what --engine auto picks', async () => {
    const r = await runCli('doctor');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^cores: \d+/m);
    expect(r.out).toContain('engine wasm: available');
    const native = loadNativeAddon();
    if (native.available) {
      expect(r.out).toMatch(/^engine native: available/m);
      expect(r.out).toMatch(/^ {2}libtorch: .+; CUDA support: (yes|no)/m);
      expect(r.out).toMatch(/^devices: cpu/m);
      expect(r.out).toContain('--engine auto trains on: native');
    } else {
      expect(r.out).toContain(`engine native: not available: ${native.reason}`);
      expect(r.out).toContain('--engine auto trains on: wasm');
    }
  });
});
