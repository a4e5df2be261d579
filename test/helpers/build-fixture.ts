/**
 * Builds shared test fixtures in a process of their own (so that a test file's process keeps its
 * own engine settings):
 * - `node --import tsx test/helpers/build-fixture.ts NAME FOLDER` builds one;
 * - `... build-fixture.ts --serve` builds each `{ name, dir }` its parent sends (Node's IPC
 *   channel), one at a time, answering `{ ok }` or `{ ok: false, error }` (test/helpers/fixture-server.ts).
 */
import { fixtureBuilder } from './fixture-builders.js';

if (process.argv[2] === '--serve') {
  let queue = Promise.resolve();
  process.on('message', (m: { name: string; dir: string }) => {
    queue = queue.then(async () => {
      try {
        await fixtureBuilder(m.name)(m.dir);
        process.send!({ ok: true });
      } catch (e) {
        process.send!({ ok: false, error: (e as Error).stack ?? String(e) });
      }
    });
  });
  // the parent gone: so is this builder (the wasm backend's threads would keep it alive)
  process.on('disconnect', () => process.exit(0));
} else {
  const [name, dir] = process.argv.slice(2);
  await fixtureBuilder(name)(dir);
  // the wasm backend's threads would keep the process alive
  process.exit(0);
}
