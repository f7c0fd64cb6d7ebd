import type { Knex } from 'knex';

/**
 * A partner that adds permissions asks every owner for them on the
 * dashboard, with a note saying why (access_note). What an owner declines is
 * kept on the authorization (declined_permissions), so the request is not
 * shown again until the partner asks for something else.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.text('access_note');
  });
  await knex.schema.alterTable('authorizations', (table) => {
    table.jsonb('declined_permissions').notNullable().defaultTo('[]');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('authorizations', (table) => {
    table.dropColumn('declined_permissions');
  });
  await knex.schema.alterTable('partners', (table) => {
    table.dropColumn('access_note');
  });
}
