import type { Knex } from 'knex';

/**
 * The operator's kill switch: a suspended partner keeps its registration and
 * every owner's approval, but no token of it works while suspended_at is set.
 * Notices about the partner as a whole (suspended, resumed, a test) belong to
 * no app or authorization, so the outbox allows those to be empty.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.timestamp('suspended_at', { useTz: true });
  });
  await knex.schema.alterTable('removal_notices', (table) => {
    table.string('app_id', 64).nullable().alter();
    table.string('authorization_id', 64).nullable().alter();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex('removal_notices').whereNull('authorization_id').delete();
  await knex.schema.alterTable('removal_notices', (table) => {
    table.string('app_id', 64).notNullable().alter();
    table.string('authorization_id', 64).notNullable().alter();
  });
  await knex.schema.alterTable('partners', (table) => {
    table.dropColumn('suspended_at');
  });
}
