import sharp from 'sharp';
import { createRng } from '../../src/util/random.js';

/** A procedurally drawn test picture (random shapes on a gradient), as raw RGB pixels via SVG. */
export function sceneSvg(seed: number, w: number, h: number): string {
  const rng = createRng(seed);
  const shapes: string[] = [];
  for (let i = 0; i < 40; i++) {
    const g = Math.floor(rng.uniform(0, 255));
    shapes.push(`<ellipse cx="${rng.uniform(0, w)}" cy="${rng.uniform(0, h)}" rx="${rng.uniform(5, w / 5)}" ry="${rng.uniform(5, h / 5)}" fill="rgb(${g},${(g * 7) % 255},${255 - g})" opacity="0.8"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#9ab"/><stop offset="1" stop-color="#234"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${shapes.join('')}</svg>`;
}

/** The scene encoded as JPEG (or another format). */
export async function scenePhoto(seed: number, w = 320, h = 200, format: 'jpeg' | 'png' | 'webp' | 'tiff' = 'jpeg', quality = 90): Promise<Buffer> {
  const img = sharp(Buffer.from(sceneSvg(seed, w, h)));
  return format === 'jpeg' ? img.jpeg({ quality }).toBuffer() : img.toFormat(format).toBuffer();
}

/** Degrees as the EXIF rational triple sharp writes: `33/1 51/1 3540/100`. */
function exifDegrees(value: number): string {
  const a = Math.abs(value);
  const d = Math.floor(a);
  const m = Math.floor((a - d) * 60);
  const s = Math.round(((a - d) * 60 - m) * 60 * 10000);
  return `${d}/1 ${m}/1 ${s}/10000`;
}

/**
 * A scene JPEG carrying a camera's EXIF: the date taken (`YYYY:MM:DD HH:MM:SS`, as cameras write
 * it) and, when given, a GPS position, so tests read metadata as it comes from a field camera.
 */
export async function exifPhoto(seed: number, o: { takenAt?: string; latitude?: number; longitude?: number; w?: number; h?: number }): Promise<Buffer> {
  const IFD2: Record<string, string> = o.takenAt ? { DateTimeOriginal: o.takenAt } : {};
  const IFD3: Record<string, string> = o.latitude !== undefined && o.longitude !== undefined
    ? { GPSLatitudeRef: o.latitude < 0 ? 'S' : 'N', GPSLatitude: exifDegrees(o.latitude), GPSLongitudeRef: o.longitude < 0 ? 'W' : 'E', GPSLongitude: exifDegrees(o.longitude) }
    : {};
  return sharp(Buffer.from(sceneSvg(seed, o.w ?? 320, o.h ?? 200))).jpeg({ quality: 90 }).withExif({ IFD0: { Make: 'whaleid-test' }, IFD2, IFD3 }).toBuffer();
}
