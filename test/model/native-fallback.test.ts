// Without the native addon (not built, switched off, or a build that does not load) whaleid
// still works and says why: the loader never throws and gives a one-line reason, `whaleid train`
// trains on tfjs-wasm saying why, `--engine native` is refused naming why, `whaleid doctor` lists
// it. Each case runs in its own process, as the loader decides once per process.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { cliLauncher, launcherArgs } from '../helpers/cli-process.js';

const dir = tmpDir();
const loader = path.resolve(import.meta.dirname, '../../src/model/native/native-addon.ts');
const script = path.join(dir, 'load.ts');
writeFileSync(script, `import { loadNativeAddon } from ${JSON.stringify(loader)};\nconst r = loadNativeAddon();\nconsole.log(JSON.stringify({ available: r.available, reason: r.available ? null : r.reason }));\n`);

const cli = cliLauncher(dir);

/** The real CLI in a child process with the native engine switched off. */
function whaleidWithoutNative(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...launcherArgs(cli), ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, WHALEID_NATIVE: 'off' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function load(env: Record<string, string>): { available: boolean; reason: string | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('native engine fallback', () => {
  it('reports the addon switched off by WHALEID_NATIVE=off', () => {
    expect(load({ WHALEID_NATIVE: 'off' })).toEqual({ available: false, reason: 'the native engine is switched off (WHALEID_NATIVE=off)' });
  });

  it('reports a missing build and a build that does not load, in one line', () => {
    const missing = load({ WHALEID_NATIVE: '', WHALEID_NATIVE_ADDON: path.join(dir, 'none.node') });
    expect(missing.available).toBe(false);
    expect(missing.reason).toMatch(/^no native engine: /);
    const broken = path.join(dir, 'broken.node');
    writeFileSync(broken, 'not a shared library');
    const bad = load({ WHALEID_NATIVE: '', WHALEID_NATIVE_ADDON: broken });
    expect(bad.available).toBe(false);
    expect(bad.reason).toMatch(/^the native engine .*broken\.node did not load: /);
    expect(bad.reason).not.toContain('\n');
  });

  it('trains on tfjs-wasm saying why, refuses --engine native naming why, and doctor lists it', async () => {
    const catalog = path.join(dir, 'catalog');
    await generateSynthCatalog({ out: catalog, individuals: 8, photosPerIndividual: 3, seed: 2 });
    const common = ['--data', catalog, '--preset', 'tiny', '--schedule', 'smoke', '--threads', '1', '--cache', path.join(dir, 'cache'), '--quiet'];
    const auto = whaleidWithoutNative(['train', ...common, '--out', path.join(dir, 'auto')]);
    expect(auto.code, auto.err).toBe(0);
    expect(auto.out).toContain('engine: tfjs wasm, 1 thread(s) (training on tfjs-wasm: the native engine is switched off (WHALEID_NATIVE=off))');
    const forced = whaleidWithoutNative(['train', ...common, '--out', path.join(dir, 'forced'), '--engine', 'native']);
    expect(forced.code).toBe(2);
    expect(forced.err.trim()).toBe('whaleid: --engine native: the native engine is switched off (WHALEID_NATIVE=off)');
    const doctor = whaleidWithoutNative(['doctor']);
    expect(doctor.code, doctor.err).toBe(0);
    expect(doctor.out).toContain('engine native: not available: the native engine is switched off (WHALEID_NATIVE=off)');
    expect(doctor.out).toContain('--engine auto trains on: wasm');
  }, 240_000);
});
