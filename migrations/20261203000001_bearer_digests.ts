import type { Knex } from 'knex';

/**
 * Bearer secrets kept only as keyed digests: engine records whose id is a
 * token, code or session id, and dashboard sessions. Existing rows are
 * marked as not yet digested here; the first process that has the keys
 * converts them when it starts (src/oauth/storage/legacy-records.ts,
 * src/web/owner-sessions.ts): a migration does not have the keys.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oauth_records', (table) => {
    table.boolean('id_digested').notNullable().defaultTo(false);
  });
  await knex.schema.alterTable('web_sessions', (table) => {
    table.boolean('keyed').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('web_sessions', (table) => {
    table.dropColumn('keyed');
  });
  await knex.schema.alterTable('oauth_records', (table) => {
    table.dropColumn('id_digested');
  });
}
