import { existsSync } from 'node:fs';
import pg from 'pg';

/**
 * What this machine can test, decided once when vitest loads its config.
 *
 * Which database projects the suite runs. PGlite needs nothing but Node.js,
 * so it always runs; PostgreSQL runs when the server named by
 * TEST_DATABASE_URL (default the local one) answers. On CI (CI=true) both are
 * required, so a missing PostgreSQL fails the run instead of passing on half.
 * TEST_DATABASES=pglite|postgres asks for exactly those projects.
 */

export const testAdminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type TestDatabase = 'pglite' | 'postgres';

export interface DatabaseChoice {
  projects: TestDatabase[];
  /** One line for the terminal: what runs and, when PostgreSQL does not, why. */
  summary: string;
}

/** host:port of a PostgreSQL URL, never its user or password. */
function where(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    return 'an unparsable TEST_DATABASE_URL';
  }
}

/** Undefined when PostgreSQL at the URL runs a query within the time limit, else why not. */
export async function postgresUnavailable(url: string, timeoutMs = 1500): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    return code ?? message ?? String(error);
  } finally {
    await client.end().catch(() => {});
  }
}

const isCi = (env: NodeJS.ProcessEnv): boolean => /^(1|true|yes)$/i.test(env.CI ?? '');

/**
 * The browser tests drive the system's Chromium (CHROMIUM_PATH, default
 * /usr/bin/chromium). Where there is none they are skipped and the run says
 * so; CI requires it.
 */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumInstalled = (): boolean => existsSync(chromiumPath);

export function checkBrowser(env: NodeJS.ProcessEnv = process.env): string {
  if (chromiumInstalled()) return `browser tests: ${chromiumPath}`;
  if (isCi(env)) throw new Error(`browser tests: no Chromium at ${chromiumPath} and CI runs the browser tests`);
  return `browser tests skipped: no Chromium at ${chromiumPath} (install chromium or set CHROMIUM_PATH)`;
}

/**
 * The fault suite (test/faults) makes its own PostgreSQL cluster with
 * postgresql-common's pg_createcluster and runs Debian's PgBouncer, which
 * needs root (CI runs as root; .ci/run installs pgbouncer). Elsewhere it is
 * skipped and the run says why; CI requires it. TEST_FAULTS=0 leaves it out.
 */
export function checkFaultSuite(env: NodeJS.ProcessEnv = process.env): { runs: boolean; summary: string } {
  if (env.TEST_FAULTS === '0') return { runs: false, summary: 'fault suite left out (TEST_FAULTS=0)' };
  const missing = [
    ...(process.getuid?.() === 0 ? [] : ['root']),
    ...['/usr/bin/pg_createcluster', '/usr/sbin/pgbouncer'].filter((path) => !existsSync(path)),
  ];
  if (!missing.length) return { runs: true, summary: 'fault suite: own cluster and pgbouncer' };
  if (isCi(env)) throw new Error(`fault suite: missing ${missing.join(', ')} and CI runs the fault suite`);
  return { runs: false, summary: `fault suite skipped: missing ${missing.join(', ')}` };
}

export async function chooseTestDatabases(env: NodeJS.ProcessEnv = process.env): Promise<DatabaseChoice> {
  const asked = env.TEST_DATABASES?.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of asked ?? []) {
    if (name !== 'pglite' && name !== 'postgres') throw new Error(`TEST_DATABASES: unknown database "${name}" (pglite, postgres)`);
  }
  const wantsPostgres = asked ? asked.includes('postgres') : true;
  const requiresPostgres = (asked?.includes('postgres') ?? false) || isCi(env);
  const projects: TestDatabase[] = asked ? [...new Set(asked as TestDatabase[])] : ['pglite'];
  const location = where(env.TEST_DATABASE_URL ?? testAdminUrl);
  if (!wantsPostgres) return { projects, summary: `test databases: ${projects.join(', ')} (TEST_DATABASES=${env.TEST_DATABASES})` };

  const unavailable = await postgresUnavailable(env.TEST_DATABASE_URL ?? testAdminUrl);
  if (unavailable) {
    if (requiresPostgres) {
      const why = asked?.includes('postgres') ? 'TEST_DATABASES asks for it' : 'CI runs both databases';
      throw new Error(`test databases: PostgreSQL at ${location} does not answer (${unavailable}) and ${why}`);
    }
    return {
      projects,
      summary: `test databases: pglite; postgres skipped: nothing answered at ${location} (${unavailable}); start PostgreSQL or set TEST_DATABASE_URL to run it`,
    };
  }
  if (!asked) projects.push('postgres');
  return { projects, summary: `test databases: ${projects.join(', ')} (PostgreSQL at ${location} answered)` };
}
