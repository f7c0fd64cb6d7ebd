import type { Knex } from 'knex';

/**
 * Dashboard sessions (only a hash of the cookie value is stored) and the
 * outbox of removal notices to partners: written in the same transaction as
 * the removal, delivered from here by a worker, so none is lost on restart.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('web_sessions', (table) => {
    table.string('id_hash', 64).primary();
    table.string('account_id', 64).notNullable().references('accounts.id').onDelete('CASCADE');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['expires_at']);
  });

  await knex.schema.createTable('removal_notices', (table) => {
    table.string('id', 64).primary();
    table.string('partner_id', 64).notNullable().references('partners.id').onDelete('CASCADE');
    table.string('app_id', 64).notNullable();
    table.string('authorization_id', 64).notNullable();
    table.text('url').notNullable();
    table.jsonb('payload').notNullable();
    table.integer('attempts').notNullable().defaultTo(0);
    table.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('delivered_at', { useTz: true });
    table.timestamp('failed_at', { useTz: true });
    table.text('last_error');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create index removal_notices_due on removal_notices (next_attempt_at) where delivered_at is null and failed_at is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('removal_notices');
  await knex.schema.dropTableIfExists('web_sessions');
}
