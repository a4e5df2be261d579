import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { FUSION_FEATURES } from '../../src/infer/fusion/fusion-model.js';
import { viewpointsCompatible } from '../../src/data/match-scope.js';

// whaleid predict --scope over the service fixture (10 whales x 4 photos and a tiny run): half the
// individuals are humpbacks, half orcas; photos alternate left, right and backleft, and lie on a line
// of positions 30 km apart
interface Detail { species: string; viewpoint: string; latitude: number; longitude: number; date: string }
interface Top { image: string; candidates: { id: string; image: string }[] }

describe('whaleid predict --scope: each test photo matched only within its scope', () => {
  const dir = tmpDir('whaleid-scope-predict-');
  let data = '';
  let run = '';
  const details = new Map<string, Detail>();
  const idOf = new Map<string, string>();
  const speciesOf = new Map<string, string>();

  beforeAll(async () => {
    await copyFixture('service', dir);
    data = path.join(dir, 'synth');
    run = path.join(dir, 'run');
    const rows = (file: string): string[][] => readFileSync(path.join(data, file), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const labelled = [...rows('train.csv'), ...rows('test_truth.csv')];
    const individuals = [...new Set(labelled.map(([, id]) => id).filter((id) => id !== 'new_whale'))].sort();
    individuals.forEach((id, i) => speciesOf.set(id, i < individuals.length / 2 ? 'Megaptera novaeangliae' : 'Orcinus orca'));
    const lines = ['Image,species,viewpoint,latitude,longitude,date'];
    labelled.forEach(([image, id], i) => {
      const d = { species: speciesOf.get(id) ?? 'Megaptera novaeangliae', viewpoint: ['left', 'right', 'backleft'][i % 3], latitude: 64 + (i % 7) * 0.27, longitude: -22, date: `2019-07-${String(1 + (i % 28)).padStart(2, '0')}` };
      details.set(image, d);
      idOf.set(image, id);
      lines.push(`${image},${d.species},${d.viewpoint},${d.latitude},${d.longitude},${d.date}`);
    });
    writeFileSync(path.join(data, 'photo_details.csv'), `${lines.join('\n')}\n`);
  }, 240_000);

  const predict = async (name: string, ...args: string[]): Promise<{ submission: Map<string, string[]>; top: Top[]; err: string }> => {
    const out = path.join(dir, `${name}.csv`);
    const r = await runCli('predict', '--model', run, '--data', data, '--out', out, '--cache', path.join(dir, 'cache'), '--box-model', 'none', '--quiet', ...args);
    expect(r.code, r.err).toBe(0);
    const submission = new Map(readFileSync(out, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).map(([image, ids]) => [image, ids.split(' ')]));
    return { submission, top: JSON.parse(readFileSync(`${out}.top.json`, 'utf8')) as Top[], err: r.err };
  };
  /** Whether a prediction lists an individual of another species than the test photo's. */
  const crossesSpecies = (submission: Map<string, string[]>): boolean => [...submission].some(([image, ids]) => ids.some((id) => id !== 'new_whale' && speciesOf.get(id) !== details.get(image)!.species));

  it('--scope species,viewpoint: never another species, never an incompatible viewpoint; without it both happen', async () => {
    const open = await predict('open');
    expect(crossesSpecies(open.submission)).toBe(true);
    const scoped = await predict('scoped', '--scope', 'species,viewpoint', '--top-k', '50');
    expect(scoped.err).toMatch(/scope \(\d+ scopes, e\.g\. species (megaptera novaeangliae|orcinus orca), viewpoint compatible with \w+\): \d+ to \d+ known photos per test photo/);
    expect(crossesSpecies(scoped.submission)).toBe(false);
    for (const t of scoped.top) {
      const q = details.get(t.image)!;
      expect(t.candidates.length).toBeGreaterThan(0);
      for (const c of t.candidates) {
        expect(details.get(c.image)!.species).toBe(q.species);
        expect(viewpointsCompatible(q.viewpoint, details.get(c.image)!.viewpoint), `${q.viewpoint} ~ ${details.get(c.image)!.viewpoint}`).toBe(true);
      }
    }
    expect(open.top.some((t) => t.candidates.some((c) => !viewpointsCompatible(details.get(t.image)!.viewpoint, details.get(c.image)!.viewpoint)))).toBe(true);
  }, 240_000);

  it('--scope-km and --scope-days keep only known photos near in space and time', async () => {
    const r = await predict('near', '--scope', 'species', '--scope-km', '40', '--scope-days', '10', '--top-k', '50');
    expect(r.top.filter((t) => t.candidates.length > 0).length).toBeGreaterThan(2);
    for (const t of r.top) {
      const q = details.get(t.image)!;
      for (const c of t.candidates) {
        const k = details.get(c.image)!;
        expect(Math.abs(k.latitude - q.latitude) * 111.2).toBeLessThanOrEqual(40);
        expect(Math.abs(Date.parse(k.date) - Date.parse(q.date)) / 86_400_000).toBeLessThanOrEqual(10);
      }
    }
  }, 240_000);

  it('the fused matcher honours the scope too', async () => {
    const calibration = path.join(dir, 'fused.matcher.json');
    writeFileSync(calibration, JSON.stringify({ matcher: 'fused', threshold: 0.5, fusion: { version: 1, features: [...FUSION_FEATURES], weights: [0.5, 1.5, 1, 2], bias: -5, fittedOn: { queries: 40, samples: 400, positives: 40, logLoss: 0.1 } } }));
    const r = await predict('fused', '--matcher', 'fused', '--matcher-calibration', calibration, '--scope', 'species,viewpoint', '--top-k', '50');
    expect(crossesSpecies(r.submission)).toBe(false);
    for (const t of r.top) for (const c of t.candidates) expect(speciesOf.get(c.id)).toBe(details.get(t.image)!.species);
  }, 300_000);

  it('refuses a scope its details cannot answer, in one line, before any feature is computed', async () => {
    const refused = async (message: RegExp, ...args: string[]): Promise<void> => {
      const r = await runCli('predict', '--model', run, '--data', data, '--out', path.join(dir, 'refused.csv'), '--force', '--box-model', 'none', ...args);
      expect(r.code, r.err).toBe(2);
      // the refusal is the last line: nothing was computed after it
      expect(r.err.split('\n').at(-1)).toMatch(message);
      expect(r.err).not.toMatch(/features with/);
    };
    await refused(/--scope: unknown 'flank' \(expected any of species, viewpoint, location, comma-separated\)/, '--scope', 'species,flank');
    await refused(/photo_details\.csv:1: no location column, which the scope needs/, '--scope', 'location');
    const other = path.join(dir, 'other-details.csv');
    writeFileSync(other, 'Image,species,latitude,longitude\nx.jpg,orca,95,1\n');
    await refused(/other-details\.csv:2: latitude: expected decimal degrees from -90 to 90 but found '95'/, '--scope', 'species', '--photo-details', other);
    writeFileSync(other, 'Image,species,latitude,longitude\nx.jpg,orca,,\n');
    await refused(/test photo .*\.jpg: no latitude and longitude in .*other-details\.csv \(--scope-km measures from each test photo's position\)/, '--scope-km', '10', '--photo-details', other);
    await refused(/no such file; --scope reads each photo's details/, '--scope', 'species', '--photo-details', path.join(dir, 'missing.csv'));
  }, 120_000);
});
