import { defineConfig } from 'vitest/config';
import { checkBrowser, chooseTestDatabases } from './test/support/test-environment.ts';

/**
 * The whole suite runs once per database project: the embedded PGlite, and a
 * real PostgreSQL when one answers; the browser tests where Chromium is
 * installed (see test/support/test-environment.ts for the rules and CI's
 * stricter ones). Every test file gets its own database, so
 * files run in parallel.
 */
export default defineConfig(async () => {
  const choice = await chooseTestDatabases();
  const browser = checkBrowser();
  // eslint-disable-next-line no-console -- the one line saying what this run covers and what it skips
  console.log(`${choice.summary}; ${browser}`);
  return {
    test: {
      projects: choice.projects.map((database) => ({
        extends: true,
        test: {
          name: database,
          env: { TEST_DATABASE: database },
          include: ['test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks' as const,
        },
      })),
    },
  };
});
