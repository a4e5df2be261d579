import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { osUserName } from '../../src/cli/commands/users-command.js';

// issue 31 item 5: every import is recorded with its user, whatever the path: a dataset folder, a
// COCO file or a Wildbook sheet, into SQLite or (through the job queue) PostgreSQL; `--by` names
// the user, else the system user running the command

const dir = tmpDir('whaleid-import-user-');
const source = path.join(dir, 'source.db');

/** Who every row an import wrote names: photos' uploader, import decisions, new individuals, sightings. */
async function whoImported(where: { catalog: string; photoDir: string }, dated: boolean): Promise<Set<string>> {
  const cat = await openCatalog(where.catalog, { photoDir: where.photoDir, readonly: true });
  try {
    const photos = (await cat.listPhotos({ limit: 1000 })).items;
    expect(photos.length).toBeGreaterThan(0);
    const decisions = await cat.decisions({ limit: 1000 });
    expect(decisions.some((d) => d.action === 'import')).toBe(true);
    const encounters = await cat.listEncounters({ limit: 200 });
    // dated photos are grouped into sightings by the import (the synthetic dataset has no dates)
    expect(encounters.length > 0).toBe(dated);
    return new Set([
      ...photos.map((p) => p.uploadedBy), ...decisions.map((d) => d.decidedBy),
      ...(await cat.listIndividuals({ limit: 1000 })).items.map((i) => i.createdBy), ...encounters.map((e) => e.createdBy),
    ]);
  } finally {
    await cat.close();
  }
}

beforeAll(async () => {
  const cat = await openCatalog(source);
  for (const [k, name] of ['Salt', 'Pepper', 'Salt', null].entries()) {
    await cat.addPhoto(await scenePhoto(800 + k), { originalName: `p${k}.jpg`, uploadedBy: 'source', takenOn: '2021-07-03', ...(name ? { individualName: name } : {}) });
  }
  await cat.close();
  for (const [format, file] of [['coco', 'coco/annotations.json'], ['wildbook-csv', 'wildbook/import.csv']]) {
    const r = await runCli('catalog', 'export', '--catalog', source, '--format', format, '--out', path.join(dir, file), '--images', path.join(dir, path.dirname(file), 'images'));
    expect(r.code, r.err).toBe(0);
  }
  await generateSynthCatalog({ out: path.join(dir, 'synth'), individuals: 2, photosPerIndividual: 2, seed: 31 });
}, 120_000);

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('every import names its user', backend), () => {
    const imports: [string, string[], boolean][] = [
      ['a dataset folder', ['--data', path.join(dir, 'synth')], false],
      ['a COCO file', ['--format', 'coco', '--data', path.join(dir, 'coco/annotations.json')], true],
      ['a Wildbook sheet', ['--format', 'wildbook', '--data', path.join(dir, 'wildbook/import.csv')], true],
    ];
    for (const [what, args, dated] of imports) {
      it(`${what}: --by names the user, else the system user running it`, async () => {
        for (const by of ['ivy', null]) {
          const where = await backend.location(dir, `${what.replace(/\W+/g, '-')}-${by ?? 'os'}`);
          const r = await runCli('catalog', 'import', '--catalog', where.catalog, '--photos', where.photoDir, ...args, ...(by ? ['--by', by] : []), '--quiet');
          expect(r.code, r.err).toBe(0);
          expect(await whoImported(where, dated)).toEqual(new Set([by ?? osUserName()]));
        }
      }, 120_000);
    }
  });
}
