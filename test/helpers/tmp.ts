import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** A fresh temporary folder, removed after the test file. */
export function tmpDir(prefix = 'whaleid-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Path of the shared real datasets beside the project (may be absent on a fresh machine). */
export const SHARED_DATASETS = path.resolve(import.meta.dirname, '../../../shared/datasets');
