/**
 * When and where a photo was taken, as its camera recorded it (EXIF). sharp hands over the raw
 * EXIF block; `exif-reader` (a small, widely used parser) reads its tags: we do not parse EXIF
 * ourselves.
 */
import exifReader from 'exif-reader';
import sharp from 'sharp';

/** What a photo's EXIF says about the sighting. Each part is null when absent or unreadable. */
export interface PhotoExif {
  /** Local time on the camera's clock, `YYYY-MM-DDTHH:MM:SS` (EXIF stores no time zone). */
  takenAt: string | null;
  /** Decimal degrees, north positive. */
  latitude: number | null;
  /** Decimal degrees, east positive. */
  longitude: number | null;
}

const NOTHING: PhotoExif = { takenAt: null, latitude: null, longitude: null };

/** EXIF dates are parsed as if UTC: the UTC fields are the camera clock's wall time. */
function wallTime(d: unknown): string | null {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) return null;
  const year = d.getUTCFullYear();
  // cameras write 0000:00:00 when their clock was never set
  if (year < 1900 || year > 2200) return null;
  return d.toISOString().slice(0, 19);
}

/** Degrees, minutes, seconds and a N/S/E/W reference as signed decimal degrees within `limit`. */
function degrees(dms: unknown, ref: unknown, limit: number): number | null {
  if (!Array.isArray(dms) || dms.length === 0 || !dms.every((x) => typeof x === 'number' && Number.isFinite(x))) return null;
  const [d, m = 0, s = 0] = dms as number[];
  const value = (d + m / 60 + s / 3600) * (ref === 'S' || ref === 'W' ? -1 : 1);
  return Math.abs(value) <= limit ? Math.round(value * 1e6) / 1e6 : null;
}

/**
 * Reads the date taken and the GPS position from a photo's EXIF. A photo without EXIF, or with
 * a damaged block, yields nulls: metadata helps a reviewer, its absence never refuses a photo.
 *
 * @param bytes - the photo's bytes (JPEG, PNG, WebP or TIFF)
 * @returns the date taken and position, each null when unknown
 * @example
 * const { takenAt, latitude, longitude } = await readPhotoExif(await readFile('fluke.jpg'));
 * // { takenAt: '2021-07-03T09:15:30', latitude: -33.859833, longitude: 151.211111 }
 */
export async function readPhotoExif(bytes: Buffer): Promise<PhotoExif> {
  let block: Buffer | undefined;
  try {
    block = (await sharp(bytes, { limitInputPixels: false }).metadata()).exif;
  } catch {
    return NOTHING;
  }
  if (!block || block.length < 8) return NOTHING;
  let tags: ReturnType<typeof exifReader>;
  try {
    tags = exifReader(block);
  } catch {
    return NOTHING;
  }
  const gps = tags.GPSInfo ?? {};
  const latitude = degrees(gps.GPSLatitude, gps.GPSLatitudeRef, 90);
  const longitude = degrees(gps.GPSLongitude, gps.GPSLongitudeRef, 180);
  const position = latitude !== null && longitude !== null && !(latitude === 0 && longitude === 0);
  return {
    takenAt: wallTime(tags.Photo?.DateTimeOriginal) ?? wallTime(tags.Photo?.DateTimeDigitized) ?? wallTime(tags.Image?.DateTime),
    latitude: position ? latitude : null,
    longitude: position ? longitude : null,
  };
}
