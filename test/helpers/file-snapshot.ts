import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Every file below `root` with the SHA-256 of its bytes (paths relative to root), to assert that a
 * command left its inputs and outputs byte-identical and wrote nothing new.
 *
 * @param root - the folder
 * @param keep - which paths (relative to root) to take, files and folders alike: a folder left out
 *   is not read at all (default: every one)
 */
export function snapshotFiles(root: string, keep: (rel: string) => boolean = () => true): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      if (!keep(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}
