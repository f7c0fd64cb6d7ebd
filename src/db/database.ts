import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import ClientPG from 'knex/lib/dialects/postgres/index.js';
import type pg from 'pg';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.ts';
import { useUnnamedStatements } from './statements.ts';
import { classifyDatabaseError } from './unavailable.ts';

export type { Knex };

const migrationsDirectory = fileURLToPath(new URL('../../migrations', import.meta.url));

export interface Database {
  knex: Knex;
  mode: 'postgres' | 'pglite';
  close(): Promise<void>;
}

/**
 * How long anything waits for the database, in milliseconds. A stopped
 * server refuses at once; a frozen or unreachable one would otherwise keep a
 * request waiting for as long as the kernel keeps the socket.
 */
export interface DatabaseDeadlines {
  /** Opening a PostgreSQL connection, up to the server being ready for a first query. */
  connectMs: number;
  /**
   * One statement, from sending it to its last row. Enforced by the client,
   * because a frozen server enforces nothing, and because a transaction
   * pooler (PgBouncer before 1.20) refuses a statement_timeout startup parameter.
   */
  statementMs: number;
  /** Waiting for a pooled connection (PGlite's one connection included). */
  acquireMs: number;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  dataDir: string;
  deadlines?: DatabaseDeadlines;
  /** false: never ask PostgreSQL to keep a named statement (see src/db/statements.ts). */
  namedStatements?: boolean;
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

/** The database settings (src/config/settings.ts) as openDatabase takes them. */
export function databaseOptionsFrom(settings: {
  DATABASE_URL?: string | undefined;
  DATA_DIR: string;
  DATABASE_CONNECT_TIMEOUT_MS: number;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  DATABASE_ACQUIRE_TIMEOUT_MS: number;
  DATABASE_NAMED_STATEMENTS: boolean;
}): DatabaseOptions {
  return {
    databaseUrl: settings.DATABASE_URL,
    dataDir: settings.DATA_DIR,
    deadlines: {
      connectMs: settings.DATABASE_CONNECT_TIMEOUT_MS,
      statementMs: settings.DATABASE_STATEMENT_TIMEOUT_MS,
      acquireMs: settings.DATABASE_ACQUIRE_TIMEOUT_MS,
    },
    namedStatements: settings.DATABASE_NAMED_STATEMENTS,
  };
}

/**
 * A knex client whose errors say when the database is unavailable
 * (DatabaseUnavailableError, src/db/unavailable.ts) rather than leaving every
 * caller to recognise driver messages. Queries inside transactions go through
 * the same methods: knex builds a transaction's client from this prototype.
 */
function reportingUnavailability(Base: typeof Knex.Client): typeof Knex.Client {
  return class extends Base {
    override async acquireConnection(): Promise<unknown> {
      try {
        return await super.acquireConnection();
      } catch (error) {
        throw classifyDatabaseError(error);
      }
    }

    override async query(connection: unknown, query: unknown): Promise<unknown> {
      try {
        return await super.query(connection, query);
      } catch (error) {
        throw classifyDatabaseError(error);
      }
    }
  };
}

/**
 * A pooled connection whose last statement passed its deadline may still be
 * waiting for the server: it is not handed out again, and closing it cuts
 * the socket (pg ends a connection with a statement in flight by destroying it).
 */
const isIdleConnection = (connection: pg.Client) => (connection as pg.Client & { readyForQuery: boolean }).readyForQuery;

function openPostgres(databaseUrl: string, options: DatabaseOptions): Database {
  const { deadlines } = options;
  const knex = knexFactory({
    client: reportingUnavailability(ClientPG),
    connection: {
      connectionString: databaseUrl,
      ...(deadlines ? { connectionTimeoutMillis: deadlines.connectMs, query_timeout: deadlines.statementMs } : {}),
    },
    ...(deadlines ? { acquireConnectionTimeout: deadlines.acquireMs } : {}),
    pool: {
      min: 0,
      max: options.poolMax ?? 10,
      validate: isIdleConnection,
      ...(deadlines ? { createTimeoutMillis: deadlines.connectMs } : {}),
    },
    migrations: migrationConfig,
  });
  if (options.namedStatements === false) useUnnamedStatements(knex);
  return { knex, mode: 'postgres', close: () => knex.destroy() };
}

/** Opens PostgreSQL when a URL is configured, otherwise the embedded PGlite kept under the data folder. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);

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
    client: reportingUnavailability(ClientPGLite),
    connection: { pglite } as Knex.StaticConnectionConfig,
    ...(options.deadlines ? { acquireConnectionTimeout: options.deadlines.acquireMs } : {}),
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

async function latest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest()) as [number, string[]];
  return applied;
}

/** How long a starting instance waits for another one's migrations. */
const migrationWaitMs = 120_000;

/**
 * Brings the schema up to date. Several instances starting at once on one
 * PostgreSQL would race to create knex's own tables; instead one migrates
 * and the others wait for it, then find nothing left to do. The lock is a
 * transaction-level advisory lock held by a transaction left open while the
 * migrations run on another connection: an open transaction keeps its
 * server session even behind a transaction pooler, so this holds through
 * PgBouncer too (whose pool must then have room for two sessions). PGlite
 * has one in-process connection and no one to race with.
 */
export async function migrateToLatest(knex: Knex): Promise<string[]> {
  if ((knex.client as { pglite?: unknown }).pglite) return latest(knex);
  const deadline = Date.now() + migrationWaitMs;
  for (;;) {
    const applied = await knex.transaction(async (trx) => {
      const { rows } = (await trx.raw('select pg_try_advisory_xact_lock(hashtext(?)) as locked', ['appgrant migrations'])) as { rows: Array<{ locked: boolean }> };
      return rows[0]?.locked ? latest(knex) : undefined;
    });
    if (applied) return applied;
    if (Date.now() > deadline) throw new Error(`another process has been migrating the database for ${migrationWaitMs / 1000} s`);
    await sleep(250);
  }
}
