import type { Box } from '../image/affine.js';
import { boxKey } from './box-key.js';
import type { CatalogDb } from './catalog-db.js';
import type { AnnotationRecord } from './catalog-types.js';
import type { GalleryEntry } from './gallery-read.js';

/**
 * Gallery ids: the gallery (`catalog.gallery()`) holds every annotation that names a live
 * individual, each ranked by the features of its own box. A row's `photoId` is its gallery id:
 * the photo's id for the photo's first annotation (the photo itself, as every gallery row was
 * before photos held several animals), and minus the annotation's id for a further one (ordinal
 * 1 on). Why one number: the feature cache, the scored gallery, the feature block, the shards and
 * their hashes all key rows by one integer, and a photo's further annotations need keys of their
 * own; a negative id is never a photo's, so code that forgets to translate one fails ("photo -7
 * not found") instead of pointing at the wrong photo. The feature store keeps a further
 * annotation's features under its gallery id (table `annotation_features`), and
 * `catalog.galleryPhoto(id)` gives the photo a row is cropped from.
 */

/**
 * The gallery id of a photo's further annotation.
 *
 * @param annotationId - the annotation (ordinal 1 on)
 * @returns minus its id
 * @example
 * annotationGalleryId(7); // -7
 */
export function annotationGalleryId(annotationId: number): number {
  return -annotationId;
}

/**
 * The annotation a gallery id names, or null for a photo's id (its first annotation).
 *
 * @param galleryId - a gallery row's `photoId`
 * @returns the annotation id, or null
 * @example
 * annotationOfGalleryId(-7); // 7
 * annotationOfGalleryId(12); // null
 */
export function annotationOfGalleryId(galleryId: number): number | null {
  return galleryId < 0 ? -galleryId : null;
}

/**
 * An annotation's box as the crop takes it: corners in pixels, with its rotation (Wildbook's
 * `theta`, radians about the box centre) when it has one.
 *
 * @param a - the annotation
 * @returns the box, or null for the whole photo
 * @example
 * annotationCorners({ box: { x: 10, y: 20, w: 100, h: 50 }, theta: 0.5 }); // { x0: 10, y0: 20, x1: 110, y1: 70, theta: 0.5 }
 */
export function annotationCorners(a: Pick<AnnotationRecord, 'box' | 'theta'>): Box | null {
  if (!a.box) return null;
  const { x, y, w, h } = a.box;
  return { x0: x, y0: y, x1: x + w, y1: y + h, ...(a.theta ? { theta: a.theta } : {}) };
}

/**
 * The gallery rows of photos' further annotations (ordinal 1 on) that name a live individual,
 * ascending by annotation id, each under its gallery id and keyed by its own box. A photo's first
 * annotation is the photo's row (gallery-read.ts).
 *
 * @param db - the catalog's database
 * @returns the rows
 * @example
 * const rows = await readAnnotationGallery(db); // [{ photoId: -7, individualId: 3, boxKey: '10,20,110,70,0.5' }]
 */
export async function readAnnotationGallery(db: CatalogDb): Promise<GalleryEntry[]> {
  const rows = await db.q().selectFrom('annotations as a').innerJoin('individuals as i', 'i.id', 'a.individual_id')
    .select(['a.id', 'a.individual_id', 'a.x', 'a.y', 'a.w', 'a.h', 'a.theta'])
    .where('a.ordinal', '>', 0).where('i.merged_into', 'is', null).orderBy('a.id').execute();
  return rows.map((r) => ({
    photoId: annotationGalleryId(r.id), individualId: r.individual_id!,
    boxKey: boxKey(annotationCorners({ box: r.x === null ? null : { x: r.x, y: r.y!, w: r.w!, h: r.h! }, theta: r.theta })),
  }));
}
