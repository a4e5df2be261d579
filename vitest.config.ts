import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // one PostgreSQL server for the run (the catalog and API tests run on SQLite and PostgreSQL)
    globalSetup: ['test/helpers/postgres-server.ts'],
  },
});
