import net from 'node:net';
import { WhaleidError } from './errors.js';

/**
 * Checks that a TCP port can be listened on, before a service spends minutes loading a model and
 * a catalog only to fail at `listen` with "internal error: listen EADDRINUSE". The port is bound
 * and released at once; port 0 (any free port) always passes.
 *
 * @param host - the address to listen on
 * @param port - the port
 * @returns resolves when the port is free
 * @throws {@link WhaleidError} naming the port and what to do, when it is in use, needs privileges
 *   or the address is not this machine's
 * @example
 * await checkPortFree('127.0.0.1', 8080); // throws: --port 8080: 127.0.0.1:8080 is in use by another process; ...
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        EADDRINUSE: `${host}:${port} is in use by another process (another whaleid serve?); choose another --port or stop it`,
        EACCES: `listening on ${host}:${port} needs privileges (ports below 1024); choose a --port from 1024 up`,
        EADDRNOTAVAIL: `${host} is not an address of this machine; give --host one of its addresses (127.0.0.1, 0.0.0.0)`,
      };
      reject(new WhaleidError(`--port ${port}: ${why[e.code ?? ''] ?? `cannot listen on ${host}:${port} (${e.code ?? e.message})`}`));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
