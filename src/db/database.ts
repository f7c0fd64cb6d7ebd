import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';

export type { Knex };

const migrationsDirectory = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface Database {
  knex: Knex;
  mode: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Pool size for PostgreSQL; PGlite always has exactly one connection. */
  poolMax?: number;
  /** An already open PGlite (tests use in-memory ones); the data folder is then not touched. */
  pglite?: PGlite;
}

export const migrationConfig: Knex.MigratorConfig = {
  directory: migrationsDirectory,
  loadExtensions: ['.ts'],
  tableName: 'knex_migrations',
};

/** Opens PostgreSQL when a URL is configured, otherwise the embedded PGlite kept under the data folder. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const knex = knexFactory({
      client: 'pg',
      connection: options.databaseUrl,
      pool: { min: 0, max: options.poolMax ?? 10 },
      migrations: migrationConfig,
    });
    return { knex, mode: 'postgres', close: () => knex.destroy() };
  }

  // Loaded only when used: the embedded engine costs memory a PostgreSQL deployment should not pay.
  const [{ PGlite: PGliteEngine }, { default: ClientPGLite }] = await Promise.all([import('@electric-sql/pglite'), import('knex-pglite')]);
  let lock: DataDirLock | undefined;
  let pglite = options.pglite;
  if (!pglite) {
    const dataDir = resolve(options.dataDir);
    lock = acquireDataDirLock(dataDir, { pid: process.pid });
    try {
      pglite = await PGliteEngine.create(join(dataDir, 'pgdata'));
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  const knex = knexFactory({
    client: ClientPGLite,
    connection: { pglite } as Knex.StaticConnectionConfig,
    migrations: migrationConfig,
  });
  return {
    knex,
    mode: 'pglite',
    close: async () => {
      await knex.destroy();
      lock?.release();
    },
  };
}

export async function migrateToLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  return applied;
}
