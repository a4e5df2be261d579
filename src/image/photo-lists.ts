import { promises as fs } from 'node:fs';
import { WhaleidError } from '../util/errors.js';

/**
 * Reads a photo list (the method's rotate-180 and exclude lists): one file name a line; blank
 * lines and lines starting with `#` are ignored.
 *
 * @param file - path of the list
 * @returns the names
 * @throws {@link WhaleidError} when the file is missing or a line is an absolute or `..` path
 * @example
 * const rotate = await readPhotoList('rotate.txt'); // Set { '2b792814.jpg', ... }
 */
export async function readPhotoList(file: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WhaleidError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`);
  }
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const name = raw.trim();
    if (name === '' || name.startsWith('#')) return;
    if (name.startsWith('/') || name.split('/').includes('..')) {
      throw new WhaleidError(`${file}:${i + 1}: "${name}" must be a photo name relative to the dataset, not an absolute or parent path`);
    }
    names.add(name);
  });
  return names;
}
