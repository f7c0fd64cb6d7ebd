import { defineConfig } from 'vitest/config';
import { checkBrowser, checkFaultSuite, chooseTestDatabases } from './test/support/test-environment.ts';

/**
 * The whole suite runs once per database project: the embedded PGlite, and a
 * real PostgreSQL when one answers; the browser tests where Chromium is
 * installed (see test/support/test-environment.ts for the rules and CI's
 * stricter ones). Every test file gets its own database, so
 * files run in parallel.
 *
 * The fault suite (test/faults) runs once, as its own project: each file
 * brings its own databases (a PostgreSQL cluster, PgBouncer, embedded data
 * folders) and servers as processes, and breaks them. `--project faults`
 * runs it alone.
 */
export default defineConfig(async () => {
  const choice = await chooseTestDatabases();
  const browser = checkBrowser();
  const faults = checkFaultSuite();
  // eslint-disable-next-line no-console -- the one line saying what this run covers and what it skips
  console.log(`${choice.summary}; ${browser}; ${faults.summary}`);
  return {
    test: {
      projects: [
        ...choice.projects.map((database) => ({
          extends: true,
          test: {
            name: database,
            env: { TEST_DATABASE: database },
            include: ['test/**/*.test.ts'],
            exclude: ['test/faults/**'],
            testTimeout: 30_000,
            hookTimeout: 60_000,
            pool: 'forks' as const,
          },
        })),
        ...(faults.runs
          ? [
              {
                extends: true,
                test: {
                  name: 'faults',
                  include: ['test/faults/**/*.test.ts'],
                  // One file at a time: each starts servers and databases of its own and measures latencies.
                  fileParallelism: false,
                  testTimeout: 90_000,
                  hookTimeout: 180_000,
                  pool: 'forks' as const,
                },
              },
            ]
          : []),
      ],
    },
  };
});
