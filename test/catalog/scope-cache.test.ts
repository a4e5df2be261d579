import { describe, it, expect } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog } from '../../src/catalog/catalog.js';
import { scopeCache } from '../../src/catalog/photo-scope.js';
import { resolveScope } from '../../src/data/match-scope.js';
import { tmpDir } from '../helpers/tmp.js';

describe('scope cache: the photos in a scope read once per catalog revision', () => {
  it('answers a repeated scope from memory and reads again after any write', async () => {
    const dir = tmpDir('whaleid-scope-cache-');
    const catalog = await openCatalog(path.join(dir, 'c.db'), { photoDir: path.join(dir, 'photos') });
    const add = async (i: number, species: string): Promise<number> => {
      const bytes = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: i, g: 9, b: 9 } } }).png().toBuffer();
      return (await catalog.addPhoto(bytes, { originalName: `p${i}.png`, annotations: [{ box: null, species, viewpoint: 'left', individualName: `W${i}` }] })).photo.id;
    };
    const a = await add(1, 'humpback');
    const b = await add(2, 'orca');
    let reads = 0;
    const scopes = scopeCache({ revision: () => catalog.revision(), inScope: (s) => (reads++, catalog.inScope(s)) }, 2);
    const humpback = resolveScope({}, { species: 'humpback', viewpoint: 'left', location: null, latitude: null, longitude: null, takenOn: null }, 'q');
    const orca = { ...humpback, species: 'orca' };
    expect(await scopes(humpback)).toEqual(new Set([a]));
    expect(await scopes(orca)).toEqual(new Set([b]));
    expect(await scopes(humpback)).toEqual(new Set([a]));
    expect(reads).toBe(2);
    // a third scope pushes out the least recently used (orca)
    await scopes({ ...humpback, viewpoint: null });
    await scopes(humpback);
    expect(reads).toBe(3);
    await scopes(orca);
    expect(reads).toBe(4);
    const c = await add(3, 'humpback');
    expect(await scopes(humpback)).toEqual(new Set([a, c]));
    expect(reads).toBe(5);
    await catalog.close();
  });
});
