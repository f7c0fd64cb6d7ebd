import type { Knex } from 'knex';

/**
 * A (partner, app) pair keeps one authorization: approving the partner again
 * updates its permissions in place. The original approval date stays in
 * created_at; updated_at records the latest change.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('authorizations', (table) => {
    table.timestamp('updated_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('authorizations', (table) => {
    table.dropColumn('updated_at');
  });
}
