import { readCsvFile, expectHeader, writeCsvFile } from '../data/csv-file.js';
import { WhaleidError } from '../util/errors.js';
import type { Box } from './affine.js';

/**
 * Reads a boxes CSV `Image,x0,y0,x1,y1` (the format of the public Kaggle box files). Every bad row
 * is reported at once (file, line, field).
 *
 * @param file - path of the CSV
 * @returns image name -> box
 * @throws {@link WhaleidError} for a bad header, non-numeric or empty boxes, or repeated images
 * @example
 * const boxes = await readBoxes('bounding_boxes.csv');
 * boxes.get('0000e88ab.jpg'); // { x0: 223, y0: 149, x1: 860, y1: 438 }
 */
export async function readBoxes(file: string): Promise<Map<string, Box>> {
  const table = await readCsvFile(file);
  expectHeader(table, ['Image', 'x0', 'y0', 'x1', 'y1']);
  const boxes = new Map<string, Box>();
  const problems: string[] = [];
  const names = ['x0', 'y0', 'x1', 'y1'];
  for (const { line, fields } of table.rows) {
    if (fields.length !== 5) {
      problems.push(`${file}:${line}: expected 5 fields (Image,x0,y0,x1,y1) but found ${fields.length}`);
      continue;
    }
    const [image, ...coords] = fields;
    const v = coords.map(Number);
    const bad = v.findIndex((x, i) => coords[i] === '' || !Number.isFinite(x));
    if (bad >= 0) {
      problems.push(`${file}:${line}: ${names[bad]}: expected a number but found "${coords[bad]}"`);
      continue;
    }
    if (!(v[2] > v[0] && v[3] > v[1])) {
      problems.push(`${file}:${line}: empty box ${coords.join(',')}; expected x1 > x0 and y1 > y0`);
      continue;
    }
    if (boxes.has(image)) problems.push(`${file}:${line}: Image: ${image} appears twice`);
    boxes.set(image, { x0: v[0], y0: v[1], x1: v[2], y1: v[3] });
  }
  if (problems.length > 0) {
    throw new WhaleidError(problems.slice(0, 10).join('; ') + (problems.length > 10 ? ` (and ${problems.length - 10} more)` : ''));
  }
  return boxes;
}

/**
 * Writes boxes as `Image,x0,y0,x1,y1` atomically (coordinates rounded to 0.1 px).
 *
 * @param file - destination
 * @param boxes - image name -> box
 * @example
 * await writeBoxes('boxes.csv', new Map([['a.jpg', { x0: 1, y0: 2, x1: 30, y1: 14 }]]));
 */
export async function writeBoxes(file: string, boxes: ReadonlyMap<string, Box>): Promise<void> {
  const r = (x: number): number => Math.round(x * 10) / 10;
  await writeCsvFile(file, ['Image', 'x0', 'y0', 'x1', 'y1'], [...boxes].map(([k, b]) => [k, r(b.x0), r(b.y0), r(b.x1), r(b.y1)]));
}
