import type { Knex } from 'knex';

/**
 * When the partner last exchanged a refresh token for an authorization, for
 * the partner's list of installations (beside last_used_at, its last API
 * call); that list pages through a partner's live authorizations by id.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('authorizations', (table) => {
    table.timestamp('last_refreshed_at', { useTz: true });
  });
  await knex.raw('create index authorizations_live_of_partner on authorizations (partner_id, id) where revoked_at is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index authorizations_live_of_partner');
  await knex.schema.alterTable('authorizations', (table) => {
    table.dropColumn('last_refreshed_at');
  });
}
