/**
 * The builder process of the shared test fixtures (so that a test file's process keeps its own
 * engine settings): `node --import tsx test/helpers/build-fixture.ts --serve` builds each
 * `{ name, dir }` its parent sends over Node's IPC channel and answers `{ ok }` or
 * `{ ok: false, error }`. The parent (test/helpers/fixture-server.ts) sends one at a time.
 */
import { fixtureBuilder } from './fixture-builders.js';

process.on('message', async (m: { name: string; dir: string }) => {
  try {
    await fixtureBuilder(m.name)(m.dir);
    process.send!({ ok: true });
  } catch (e) {
    process.send!({ ok: false, error: (e as Error).stack ?? String(e) });
  }
});
// the parent gone: so is this builder (the wasm backend's threads would keep it alive)
process.on('disconnect', () => process.exit(0));
