// Without the native addon (not built, switched off, or a build that does not load) whaleid
// still works and says why: the loader never throws and gives a one-line reason. Each case runs
// in its own process, as the loader decides once per process.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();
const loader = path.resolve(import.meta.dirname, '../../src/model/native-addon.ts');
const script = path.join(dir, 'load.ts');
writeFileSync(script, `import { loadNativeAddon } from ${JSON.stringify(loader)};\nconst r = loadNativeAddon();\nconsole.log(JSON.stringify({ available: r.available, reason: r.available ? null : r.reason }));\n`);

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
});
