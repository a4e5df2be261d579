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

/**
 * Moves a finished file into place without replacing one that appeared there meanwhile: a hard
 * link fails when the target exists (where the file system has no hard links, an existence
 * check and a rename). Why: a copy or backup runs for minutes, and another program may have
 * created its output since it started; that file is never ours to replace.
 *
 * @param from - the finished file (e.g. `<out>.partial`)
 * @param to - where it goes
 * @returns true when moved, false when `to` exists (`from` is left as it was)
 * @throws the file system's error for anything else (e.g. `from` missing)
 * @example
 * if (!(await renameNoReplace('b.db.partial', 'b.db'))) console.log('b.db appeared meanwhile');
 */
export async function renameNoReplace(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    try {
      await fs.access(to);
      return false;
    } catch {
      await fs.rename(from, to);
      return true;
    }
  }
  await fs.unlink(from);
  return true;
}

/**
 * Creates an empty file unless one exists, atomically (`O_EXCL`): the one process that gets it
 * owns the file, so two commands never write the same temporary output.
 *
 * @param file - the file to create
 * @returns true when this call created it, false when it existed
 * @throws the file system's error for anything else (a missing folder, no permission)
 * @example
 * if (!(await claimFile('b.db.partial'))) throw new Error('another backup is writing b.db');
 */
export async function claimFile(file: string): Promise<boolean> {
  try {
    await (await fs.open(file, 'wx')).close();
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return false;
    throw e;
  }
}
