import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { readBoxes } from '../../src/image/boxes.js';
import type { TestService } from './service.js';

export const HUMPBACK = 'Megaptera novaeangliae';

/**
 * Copies of one whale's photo filed under individuals of another species, another viewpoint, far
 * away, long ago, elsewhere or of unknown species: unscoped, all of them are its best candidates;
 * a scope decides which are proposed.
 */
export const SCOPED_COPIES = [
  { name: 'S-orca', species: 'Orcinus orca', viewpoint: 'left', location: 'bay', latitude: 64.01, longitude: -22, takenOn: '2019-07-05' },
  { name: 'S-right', species: HUMPBACK, viewpoint: 'right', location: 'bay', latitude: 64.01, longitude: -22, takenOn: '2019-07-05' },
  { name: 'S-backleft', species: 'megaptera_novaeangliae', viewpoint: 'backleft', location: 'bay', latitude: 64.02, longitude: -22.01, takenOn: '2019-07-06' },
  { name: 'S-far', species: HUMPBACK, viewpoint: 'left', location: 'bay', latitude: 66, longitude: -18, takenOn: '2019-07-05' },
  { name: 'S-old', species: HUMPBACK, viewpoint: 'left', location: 'bay', latitude: 64, longitude: -22.1, takenOn: '2001-07-05' },
  { name: 'S-fjord', species: HUMPBACK, viewpoint: 'frontleft', location: 'fjord', latitude: 64.1, longitude: -22, takenOn: '2019-06-20' },
  { name: 'S-unknown', species: '', viewpoint: 'left', location: 'bay', latitude: 64, longitude: -22, takenOn: '2019-07-04' },
];

/**
 * Adds {@link SCOPED_COPIES} to a test service's catalog, and two queries of the same picture: a
 * humpback seen from the left at 64 N 22 W in the bay on 2019-07-04, and one of unknown species
 * with no details.
 *
 * @param svc - the service
 * @returns the two query photos' ids
 */
export async function addScopedGallery(svc: TestService): Promise<{ query: number; unknownQuery: number }> {
  const [image] = [...svc.labels.entries()].find(([, id]) => id !== 'new_whale')!;
  const b = (await readBoxes(path.join(svc.data, 'bounding_boxes.csv'))).get(image)!;
  const box = { x: b.x0, y: b.y0, w: b.x1 - b.x0, h: b.y1 - b.y0 };
  const original = readFileSync(path.join(svc.data, 'train', image));
  // other bytes of the same picture for each copy
  const copy = (quality: number): Promise<Buffer> => sharp(original).jpeg({ quality }).toBuffer();
  for (const [i, c] of SCOPED_COPIES.entries()) {
    await svc.catalog.addPhoto(await copy(60 + i), { originalName: `${c.name}.jpg`, location: c.location, latitude: c.latitude, longitude: c.longitude, takenOn: c.takenOn, annotations: [{ box, species: c.species, viewpoint: c.viewpoint, individualName: c.name }] });
  }
  const q = await svc.catalog.addPhoto(await copy(90), { originalName: 'query.jpg', location: 'bay', latitude: 64, longitude: -22, takenOn: '2019-07-04', annotations: [{ box, species: HUMPBACK, viewpoint: 'Left' }] });
  const unknown = await svc.catalog.addPhoto(await copy(91), { originalName: 'unknown.jpg', annotations: [{ box }] });
  return { query: q.photo.id, unknownQuery: unknown.photo.id };
}
