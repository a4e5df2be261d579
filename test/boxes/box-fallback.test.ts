import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { readBoxes } from '../../src/image/boxes.js';
import { photoExtrasFrom } from '../../src/image/photo-extras.js';
import { fillMissingBoxes } from '../../src/boxes/box-fallback.js';
import { loadDataset, datasetPhotos } from '../../src/data/dataset.js';

describe('photos without a CSV box get the fluke detector\'s box', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  const boxModel = path.join(dir, 'boxes');
  beforeAll(async () => {
    await copyFixture('synth-6x3-s9', catalog);
    const res = await runCli('boxes', 'train', '--data', catalog, '--out', boxModel, '--input-size', '32', '--filters', '4', '--epochs', '1', '--batch-size', '8', '--no-cache', '--quiet');
    expect(res.code, res.err).toBe(0);
  });

  it('fills only the photos the CSV misses, caches by content, and can be turned off', async () => {
    const ds = await loadDataset(catalog);
    const photos = datasetPhotos(ds);
    const all = await readBoxes(path.join(catalog, 'bounding_boxes.csv'));
    const kept = new Map([...all].slice(0, 3));
    const of = photoExtrasFrom(kept, new Set());
    const cacheFile = path.join(dir, 'predicted-boxes.json');
    const lines: string[] = [];
    const first = await fillMissingBoxes(photos, of, { boxModel, cacheFile, onMessage: (l) => lines.push(l) });
    expect(first.predicted.size).toBe(photos.length - 3);
    for (const [image, box] of kept) expect(first.of(image).box).toEqual(box); // the CSV wins
    for (const p of photos) expect(first.of(p.image).box).toBeDefined();
    expect(lines.join('\n')).toMatch(new RegExp(`${photos.length - 3} photos have no box .*fluke detector .*model\\.onnx, 0 from`));
    // Keyed by content: the catalog's exact duplicates share one entry.
    const contents = new Set(photos.filter((p) => !kept.has(p.image)).map((p) => createHash('sha256').update(readFileSync(p.file)).digest('hex')));
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8')).boxes).sort()).toEqual([...contents].sort());
    lines.length = 0;
    const again = await fillMissingBoxes(photos, of, { boxModel, cacheFile, onMessage: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(new RegExp(`, ${photos.length - 3} from `));
    expect([...again.predicted]).toEqual([...first.predicted]);
    const none = await fillMissingBoxes(photos, of, { boxModel: 'none' });
    expect(none.predicted.size).toBe(0);
    expect(none.of(photos[photos.length - 1].image).box).toBeUndefined();
  });

  it('whaleid predict uses predicted boxes for a dataset without a boxes CSV and writes them beside the submission', async () => {
    const run = path.join(dir, 'run');
    const cache = path.join(dir, 'cache');
    const trained = await runCli('train', '--data', catalog, '--out', run, '--preset', 'tiny', '--schedule', 'smoke', '--cache', cache, '--quiet');
    expect(trained.code, trained.err).toBe(0);
    const bare = path.join(dir, 'bare');
    cpSync(catalog, bare, { recursive: true });
    rmSync(path.join(bare, 'bounding_boxes.csv'));
    const sub = path.join(dir, 'sub.csv');
    const res = await runCli('predict', '--model', run, '--data', bare, '--out', sub, '--box-model', boxModel, '--cache', cache, '--quiet');
    expect(res.code, res.err).toBe(0);
    expect(res.err).toMatch(/photos have no box in the boxes CSV: boxes from the fluke detector/);
    const boxes = await readBoxes(`${sub}.boxes.csv`);
    const ds = await loadDataset(bare);
    expect(boxes.size).toBe(ds.train.filter((p) => p.id !== 'new_whale').length + ds.test.length);
    expect(existsSync(path.join(run, 'predicted-boxes.json'))).toBe(true);
    rmSync(`${sub}.boxes.csv`);
    const whole = await runCli('predict', '--model', run, '--data', bare, '--out', sub, '--box-model', 'none', '--cache', cache, '--quiet', '--force');
    expect(whole.code, whole.err).toBe(0);
    expect(whole.err).toMatch(/used whole \(--box-model none\)/);
    expect(existsSync(`${sub}.boxes.csv`)).toBe(false);
  });
});
