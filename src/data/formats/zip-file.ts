import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * The small part of ZIP (PKWARE's APPNOTE) a Darwin Core Archive needs: a few files, deflated,
 * no encryption, no ZIP64 (archives under 4 GiB), UTF-8 names. Written here rather than taken
 * from a package: node's zlib does the compression and the CRC, the rest is the headers.
 */

/** One file of an archive. */
export interface ZipEntry {
  name: string;
  data: Buffer;
}

/** DOS time and date of 1980-01-01 00:00: archives are the same bytes whenever they are made. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/**
 * The entries as a ZIP archive.
 *
 * @param entries - the files, in order
 * @returns the archive's bytes
 * @throws {Error} for an archive over the 4 GiB of plain ZIP
 * @example
 * writeFileSync('a.zip', zipArchive([{ name: 'meta.xml', data: Buffer.from(xml) }]));
 */
export function zipArchive(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const packed = deflateRawSync(e.data);
    const crc = crc32(e.data);
    if (offset + packed.length > 0xffffffff || e.data.length > 0xffffffff) throw new Error(`${e.name}: the archive would pass 4 GiB (ZIP64 is not written)`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    local.copy(dir, 8, 6, 26); // flags, method, time, date, crc, sizes: as in the local header
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    central.push(dir, name);
    parts.push(local, name, packed);
    offset += local.length + name.length + packed.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, dirBytes, end]);
}

/**
 * Reads the files of a ZIP archive as {@link zipArchive} writes them (stored or deflated entries,
 * through the central directory), checking each one's CRC.
 *
 * @param zip - the archive's bytes
 * @returns its files by name
 * @throws {Error} when it is not such an archive or a file's CRC is wrong
 * @example
 * const files = readZipArchive(readFileSync('dwca.zip')); // Map { 'meta.xml' => <Buffer ...>, ... }
 */
export function readZipArchive(zip: Buffer): Map<string, Buffer> {
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error('not a ZIP archive (no end of central directory)');
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`central directory entry ${i}: bad signature`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const packedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const packed = zip.subarray(start, start + packedSize);
    const data = method === 8 ? inflateRawSync(packed) : method === 0 ? Buffer.from(packed) : null;
    if (data === null) throw new Error(`${name}: compression method ${method} is not read`);
    if (data.length !== size || crc32(data) !== crc) throw new Error(`${name}: damaged (size or CRC differs)`);
    files.set(name, data);
    at += 46 + nameLength + extra;
  }
  return files;
}
