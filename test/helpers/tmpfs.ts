/**
 * A small tmpfs: a real full disk for the tests of what a command does when the disk fills
 * (ENOSPC from the kernel, SQLITE_FULL from SQLite), where mounting one is permitted (root with
 * CAP_SYS_ADMIN, as on CI); elsewhere those tests skip with the reason.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Why a tmpfs cannot be mounted here, or '' when it can.
 *
 * @returns the reason, or ''
 */
export function tmpfsMissing(): string {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'whaleid-tmpfs-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'whaleid-test', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return '';
  } catch {
    return 'mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)';
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/**
 * Mounts a tmpfs of `bytes` at `dir` (created when missing).
 *
 * @param dir - the mount point
 * @param bytes - its size
 * @returns a function that grows it to another size (its files kept), and one that unmounts it
 */
export function mountTmpfs(dir: string, bytes: number): { resize(bytes: number): void; unmount(): void } {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes)}`, 'whaleid-test', dir]);
  return {
    resize: (size) => execFileSync('mount', ['-o', `remount,size=${Math.ceil(size)}`, dir]),
    unmount: () => execFileSync('umount', [dir], { stdio: 'ignore' }),
  };
}
