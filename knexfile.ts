// For the knex CLI (e.g. `npx knex migrate:status`); the server and
// `appgrant migrate` use src/db/database.ts, which also handles PGlite.
import { migrationConfig } from './src/db/database.ts';

export default {
  client: 'pg',
  connection: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/appgrant',
  migrations: migrationConfig,
};
