import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/helpers/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two files at a time on the 2-core CI machine (vitest's default is cores - 1 = one): most
    // files wait on child processes, servers, Chromium or one engine thread, so the second core
    // would idle. Measured on the whole suite: 807 s with one worker, 587 s with two.
    maxWorkers: 2,
    // the longest files first (recorded durations, test/helpers/file-durations.json), so that no
    // long file starts near the end while the other worker has nothing left to run
    sequence: { sequencer: LongestFirstSequencer },
    // one PostgreSQL server for the run (the catalog and API tests run on SQLite and PostgreSQL);
    // the folder of the synthetic catalogs and tiny runs shared by test files (test/helpers/fixtures.ts)
    globalSetup: ['test/helpers/postgres-server.ts', 'test/helpers/fixtures-setup.ts'],
  },
});
