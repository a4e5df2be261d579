/**
 * Whether a process is running: a signal 0 reaches it, or it exists under another user (EPERM).
 * Used to tell a leftover of a dead process (a temporary folder, a lock, a server) from one in use.
 *
 * @param pid - the process id
 * @returns true when the process exists
 * @example
 * processAlive(process.pid); // true
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
