import type { Knex } from 'knex';

/**
 * Of the permissions a partner asks for, the optional ones: an owner may
 * leave them out on the consent page and still allow the rest.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.jsonb('optional_permissions').notNullable().defaultTo('[]');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.dropColumn('optional_permissions');
  });
}
