/**
 * Builds one shared test fixture in a process of its own (so that a test file's process keeps its
 * own engine settings): `node --import tsx test/helpers/build-fixture.ts NAME FOLDER`.
 */
import { fixtureBuilder } from './fixture-builders.js';

const [name, dir] = process.argv.slice(2);
await fixtureBuilder(name)(dir);
// the wasm backend's threads would keep the process alive
process.exit(0);
