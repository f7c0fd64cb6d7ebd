import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import knexFactory from 'knex';
import { migrateToLatest, openDatabase, type Database } from '../../src/db/database.ts';
import { testAdminUrl as adminUrl } from './test-environment.ts';

export const testDatabaseKind = (process.env.TEST_DATABASE ?? 'pglite') as 'pglite' | 'postgres';

/** A PostgreSQL URL for a fresh database of this test file's own, dropped by drop(). */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `appgrant_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

/** A migrated database of the kind this project run tests: PGlite in memory, or a new PostgreSQL database. */
export async function createTestDatabase(): Promise<Database> {
  if (testDatabaseKind === 'pglite') {
    const database = await openDatabase({ dataDir: 'unused', pglite: await PGlite.create() });
    await migrateToLatest(database.knex);
    return database;
  }
  const postgres = await createPostgresDatabase();
  const database = await openDatabase({ databaseUrl: postgres.url, dataDir: 'unused', poolMax: 20 });
  await migrateToLatest(database.knex);
  return {
    ...database,
    close: async () => {
      await database.close();
      await postgres.drop();
    },
  };
}
