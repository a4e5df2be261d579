import type { PhotoRecord } from '../catalog/catalog-types.js';
import { decodePhoto, type DecodedPhoto } from '../image/decode.js';
import { decodeSideFor } from '../image/crop.js';
import { boxImageCache } from '../boxes/box-predict.js';
import { clipBox, orderedBox } from '../boxes/box-transform.js';
import { FeaturesPendingError, type Identification } from './identifier.js';
import type { ServiceContext } from './service-context.js';

/** What the upload use case needs of the service. */
export type UploadServices = Pick<ServiceContext, 'catalog' | 'identifier' | 'boxDetector' | 'jobs' | 'logInternal' | 'workerWarning'>;

/** One photo as given in an upload. */
export interface UploadedFile {
  /** The client's file name, made safe to show (see displayName). */
  name: string;
  bytes: Buffer;
  takenOn?: string | null;
  location?: string | null;
  /** Who uploaded it (recorded with the photo). */
  by: string;
}

/** What became of a photo the catalog took. */
export interface StoredUpload {
  photo: PhotoRecord;
  /** The same bytes were in the catalog already (its row is returned, nothing added). */
  duplicate: boolean;
  identification: Identification | null;
  /** A queued catalog: a worker extracts its features; its candidates come later. */
  processing?: boolean;
  /** A queued catalog without a live worker says so. */
  warning?: string;
  /** It was stored, but its box or identification failed (a bug, logged for the operator). */
  error?: string;
}

/**
 * The upload of one photo: decoded once ({@link decodePhoto}: the catalog's integrity check, the
 * fluke detector and the features all use that decode), stored by content, given the fluke
 * detector's box when it has none, then identified (or, on a queued catalog, queued for a
 * worker's features). Once stored, a failure of the box or the identification is reported with
 * the photo, never as a refusal of it.
 *
 * @param s - the catalog, models and queue of the service
 * @param file - the photo's bytes, name, details and uploader
 * @returns the stored photo and its identification
 * @throws {@link WhaleidError} when the photo is refused before anything is stored: an
 *   `UnsupportedPhotoError` for a type that is not accepted, another `WhaleidError` for a corrupt,
 *   oversized or empty photo or a bad detail; other errors are bugs
 * @example
 * const { photo, identification } = await uploadPhoto(ctx, { name: 'a.jpg', bytes, by: 'ann' });
 */
export async function uploadPhoto(s: UploadServices, file: UploadedFile): Promise<StoredUpload> {
  const { catalog, identifier, boxDetector } = s;
  // decoded at the reduction of the step that needs its pixels: the features (computed here), else the box
  const side = identifier && !s.jobs ? decodeSideFor(identifier.crop.size) : boxDetector ? decodeSideFor(boxDetector.spec.inputSize) : undefined;
  const decoded = await decodePhoto(file.bytes, file.name || 'photo', { maxPixels: catalog.maxPixels, maxSide: side });
  const added = await catalog.addPhoto(file.bytes, { originalName: file.name, takenOn: file.takenOn || null, location: file.location || null, uploadedBy: file.by, decoded });
  // stored: what follows only adds to it, and its failure is reported with the photo
  try {
    const photo = !added.photo.box && boxDetector ? await detectBox(s, added.photo, decoded) : added.photo;
    if (!s.jobs) return { photo, duplicate: added.duplicate, identification: identifier ? await identifier.identify(photo.id, { k: 5, decoded }) : null };
    // a worker extracts its features; the review page shows it as being processed until then
    if (!added.duplicate) await s.jobs.enqueueFeatures([photo.id]);
    try {
      if (added.duplicate && identifier) return { photo, duplicate: true, identification: await identifier.identify(photo.id, { k: 5 }) };
    } catch (e) {
      if (!(e instanceof FeaturesPendingError)) throw e;
    }
    const warning = s.workerWarning();
    return { photo, duplicate: added.duplicate, identification: null, processing: true, ...(warning ? { warning } : {}) };
  } catch (e) {
    s.logInternal(e);
    return { photo: added.photo, duplicate: added.duplicate, identification: null, error: `${file.name}: stored, but its box or identification failed (internal error)` };
  }
}

/** The fluke detector's box for a stored photo (a person can still draw one: PUT .../box), from the upload's decode when it has the detector's reduction. */
async function detectBox(s: UploadServices, photo: PhotoRecord, decoded: DecodedPhoto): Promise<PhotoRecord> {
  const detector = s.boxDetector!;
  const file = s.catalog.photoFile(photo);
  const [found] = await detector.detect([await boxImageCache(detector).withDecoded(file, decoded).load(file)]);
  const box = clipBox(orderedBox(found), 0, 0, photo.width, photo.height);
  return box.x1 - box.x0 >= 2 && box.y1 - box.y0 >= 2 ? await s.catalog.setBox(photo.id, box, 'model') : photo;
}
