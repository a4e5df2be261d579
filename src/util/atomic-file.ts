import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes a file atomically: to a temporary file beside it, then renamed over the target, so a
 * crash or kill never leaves a half-written file where a good one was.
 *
 * @param file - destination path
 * @param data - contents
 * @returns resolves once the file is in place
 * @example
 * await writeFileAtomic('out/submission.csv', csvText);
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  // unique per call: concurrent writers of the same file (even in one process) never share a temp file
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
