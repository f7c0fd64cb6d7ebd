import { defineConfig } from 'vitest/config';

/**
 * The whole suite runs twice: on the embedded PGlite and on a real
 * PostgreSQL (TEST_DATABASE_URL, default the local server). Every test file
 * gets its own database, so files run in parallel. TEST_DATABASES=pglite (or
 * postgres) runs one of the two.
 */
const wanted = (process.env.TEST_DATABASES ?? 'pglite,postgres').split(',').map((name) => name.trim());

export default defineConfig({
  test: {
    projects: wanted.map((database) => ({
      extends: true,
      test: {
        name: database,
        env: { TEST_DATABASE: database },
        include: ['test/**/*.test.ts'],
        testTimeout: 30_000,
        hookTimeout: 60_000,
        pool: 'forks',
      },
    })),
  },
});
