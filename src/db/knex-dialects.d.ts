// knex's PostgreSQL dialect, which appgrant extends (src/db/database.ts) as
// knex-pglite does; knex ships no types for this module.
declare module 'knex/lib/dialects/postgres/index.js' {
  import type { Knex } from 'knex';
  const ClientPG: typeof Knex.Client;
  export default ClientPG;
}
