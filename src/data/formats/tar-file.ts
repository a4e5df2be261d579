import { gunzipSync } from 'node:zlib';

/**
 * The regular files of a gzipped tar archive (ustar, with GNU long names and pax path records):
 * how Wildbook ships its COCO export (`annotations.json` and `images/`).
 */

/** Reads a NUL-terminated text field of a header. */
const text = (b: Buffer, from: number, length: number): string => b.toString('utf8', from, from + length).replace(/\0[\s\S]*$/, '');

/**
 * Unpacks a .tar.gz in memory.
 *
 * @param gz - the archive's bytes
 * @returns each regular file's bytes by its path in the archive (`./` dropped)
 * @throws {Error} when it is not a gzipped tar or a header is damaged
 * @example
 * const files = readTarGz(readFileSync('export.tar.gz')); // Map { 'annotations.json' => ..., 'images/a.jpg' => ... }
 */
export function readTarGz(gz: Buffer): Map<string, Buffer> {
  const tar = gunzipSync(gz);
  const files = new Map<string, Buffer>();
  let longName: string | null = null;
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
    if (sum !== parseInt(text(header, 148, 8).trim() || '-1', 8)) throw new Error(`tar header at byte ${at}: bad checksum (not a tar archive, or damaged)`);
    const size = parseInt(text(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const body = tar.subarray(at + 512, at + 512 + size);
    const prefix = text(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    longName = null;
    if (type === 'L') longName = text(body, 0, body.length);
    else if (type === 'x') longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1] ?? null;
    else if (type === '0' || type === '7') files.set(name.replace(/^(\.\/)+/, ''), Buffer.from(body));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
