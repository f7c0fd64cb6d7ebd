import type { Knex } from 'knex';

/** The part of knex's connection pool (tarn) that says how busy it is. */
interface PoolCounts {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** Connections in use and idle, and queries waiting for one; all 0 before the pool exists. */
export function poolStats(db: Knex): { inUse: number; idle: number; waiting: number } {
  const pool = (db.client as { pool?: PoolCounts }).pool;
  if (!pool) return { inUse: 0, idle: 0, waiting: 0 };
  return { inUse: pool.numUsed(), idle: pool.numFree(), waiting: pool.numPendingAcquires() };
}
