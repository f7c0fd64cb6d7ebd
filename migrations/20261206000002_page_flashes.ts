import type { Knex } from 'knex';

/**
 * What a page shows once after a form that changed something redirected to
 * it (Post/Redirect/Get): a new secret, or a sentence naming what was done.
 * Each row belongs to one dashboard session and one page, is sealed with the
 * key box (a secret never rests in the clear), is deleted when first shown,
 * and ends with its session or after a few minutes, whichever comes first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('page_flashes', (table) => {
    table.string('id', 64).primary();
    table.string('session_id', 64).notNullable().references('web_sessions.id_hash').onDelete('CASCADE').onUpdate('CASCADE');
    table.string('page', 300).notNullable();
    table.text('sealed').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['session_id', 'page']);
    table.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('page_flashes');
}
