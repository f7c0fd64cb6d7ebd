import type { Knex } from 'knex';

/**
 * The retention sweep (src/retention) finds what has ended by when it ended:
 * these indexes let each batch be read from an index instead of a scan of
 * the whole table, however large it has grown. Partial, so rows that have
 * not ended cost nothing to keep indexed.
 */
const indexes = [
  { name: 'authorizations_revoked_at_index', table: 'authorizations', column: 'revoked_at' },
  { name: 'api_keys_revoked_at_index', table: 'api_keys', column: 'revoked_at' },
  { name: 'api_keys_expires_at_index', table: 'api_keys', column: 'expires_at' },
  { name: 'removal_notices_delivered_at_index', table: 'removal_notices', column: 'delivered_at' },
  { name: 'removal_notices_failed_at_index', table: 'removal_notices', column: 'failed_at' },
];

export async function up(knex: Knex): Promise<void> {
  for (const { name, table, column } of indexes) {
    await knex.raw(`create index if not exists ?? on ?? (??) where ?? is not null`, [name, table, column, column]);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const { name } of indexes) await knex.raw('drop index if exists ??', [name]);
}
