import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/helpers/sequencer.js';

/**
 * The test files that need a process of their own: they check what the first start of tfjs's wasm
 * backend in a process decides (its threaded or single-threaded build), so another file run before
 * them in the same process would change what they see.
 */
const OWN_PROCESS = ['test/model/tfjs/wasm-threads.test.ts', 'test/model/tfjs/conv-grad-kernels.test.ts'];

const FILES = ['test/**/*.test.ts', 'src/**/*.test.ts'];
const TIMEOUTS = { testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    pool: 'forks',
    // two files at a time on the 2-core CI machine (vitest's default is cores - 1 = one): most
    // files wait on child processes, servers, Chromium or one engine thread, so the second core
    // would idle. Measured on the whole suite: 807 s with one worker, 587 s with two.
    maxWorkers: 2,
    // the longest files first (recorded durations, test/helpers/file-durations.json), so that no
    // long file starts near the end while the other worker has nothing left to run
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      // A worker process runs file after file (no fresh process per file): every file imported
      // sharp, ONNX Runtime, tfjs and the sources again in a process of its own, about 3 s of CPU
      // each, 434 s of the suite's 1,633 worker-seconds (measured: whole suite 13 min 48 s with a
      // process per file, 11 min 14 s without, idle machine). Files restore what they change in
      // the process (cwd, environment variables, tfjs's backend).
      {
        test: {
          name: 'shared', isolate: false, include: FILES, exclude: OWN_PROCESS, ...TIMEOUTS,
          // one PostgreSQL server for the run (the catalog and API tests run on SQLite and
          // PostgreSQL); the folder of the synthetic catalogs and tiny runs shared by test files
          // (test/helpers/fixtures.ts). Only here: a project's global setup runs once per project.
          globalSetup: ['test/helpers/postgres-server.ts', 'test/helpers/fixtures-setup.ts'],
        },
      },
      { test: { name: 'own-process', isolate: true, include: OWN_PROCESS, ...TIMEOUTS } },
    ],
  },
});
