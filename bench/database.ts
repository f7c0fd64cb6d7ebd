import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Drops the database, ending any session still connected to it. Safe to call twice. */
  drop(): Promise<void>;
}

/** A fresh, empty PostgreSQL database of this run's own: appgrant_bench_<random>. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `appgrant_bench_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } catch (error) {
    await admin.destroy();
    throw error;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      try {
        await admin.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.destroy();
      }
    },
  };
}
