import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Settings } from '../../src/config/settings.ts';
import { testSettings } from './server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import type { PasswordHasher } from '../../src/accounts/password-hasher.ts';
import { createPostgresDatabase, testDatabaseKind } from './database.ts';

/**
 * A database that outlives a server, so a test can stop appgrant and start a
 * new one on the same data: a fresh PostgreSQL database (DATABASE_URL) for
 * the postgres project, a temporary data folder with an on-disk PGlite
 * (DATA_DIR, no DATABASE_URL) for the pglite project. Each server opens the
 * database itself from the environment, exactly as `npm start` does, and its
 * close() closes it.
 */
export interface DurableStore {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function createDurableStore(): Promise<DurableStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'appgrant-restart-'));
  const postgres = testDatabaseKind === 'postgres' ? await createPostgresDatabase() : undefined;
  return {
    env: { DATA_DIR: dataDir, ...(postgres ? { DATABASE_URL: postgres.url } : {}) },
    cleanup: async () => {
      await postgres?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface StoredServer extends RunningServer {
  settings: Settings;
  db: Knex;
  hasher: PasswordHasher;
}

/** One appgrant server on the store; call close() before starting the next one. */
export async function startServerOnStore(store: DurableStore, env: Record<string, string> = {}): Promise<StoredServer> {
  const settings = testSettings({ ...store.env, ...env });
  const running = await startServer({ settings, logger: createLogger(settings.LOG_LEVEL) });
  return {
    ...running,
    settings: { ...settings, ISSUER: running.issuer },
    db: running.database.knex,
    hasher: passwordHasherFor(settings),
  };
}
