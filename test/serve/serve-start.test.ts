import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import path from 'node:path';
import { openCatalog } from '../../src/catalog/catalog.js';
import { checkPortFree } from '../../src/util/port-check.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

// Issue 33 item 4: a port in use was found only after loading everything, as
// "internal error: listen EADDRINUSE" (exit 70).
describe('whaleid serve on a port in use', () => {
  const dir = tmpDir('whaleid-port-');
  const db = path.join(dir, 'whales.db');
  const busy = net.createServer();
  let port = 0;
  beforeAll(async () => {
    await (await openCatalog(db, { create: true })).close();
    await new Promise<void>((resolve) => busy.listen({ host: '127.0.0.1', port: 0 }, resolve));
    port = (busy.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

  it('refuses before loading anything: one line naming the port, exit 2', async () => {
    const started = Date.now();
    const r = await runCli('serve', '--catalog', db, '--port', String(port), '--token', 'a-long-token');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`whaleid: --port ${port}: 127.0.0.1:${port} is in use by another process (another whaleid serve?); choose another --port or stop it`);
    expect(r.out).toBe('');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('passes a free port and port 0, names an address that is not this machine\'s', async () => {
    await expect(checkPortFree('127.0.0.1', 0)).resolves.toBeUndefined();
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const freePort = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    await expect(checkPortFree('127.0.0.1', freePort)).resolves.toBeUndefined();
    await expect(checkPortFree('192.0.2.1', freePort)).rejects.toThrow(/192\.0\.2\.1 is not an address of this machine/);
  });
});
