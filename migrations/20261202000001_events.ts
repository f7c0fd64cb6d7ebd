import type { Knex } from 'knex';

/**
 * The audit trail: one append-only row per security-relevant change, written
 * in the transaction of the change it records. Rows are only ever inserted,
 * and deleted by the retention sweep once older than EVENT_RETENTION_DAYS.
 * The id is a sequence, so "newest first" and cursors are exact even when
 * two events share a timestamp.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('events', (table) => {
    table.bigIncrements('id').primary();
    table.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.string('type', 64).notNullable();
    table.string('actor_type', 16).notNullable();
    table.string('actor_id', 128);
    table.string('account_id', 64);
    table.string('app_id', 64);
    table.string('partner_id', 64);
    table.string('target_type', 32);
    table.string('target_id', 128);
    table.string('client_ip', 64);
    table.string('user_agent', 256);
    table.string('cause', 64);
    table.jsonb('detail').notNullable().defaultTo('{}');
    table.index(['account_id', 'id']);
    table.index(['app_id', 'id']);
    table.index(['partner_id', 'id']);
    table.index(['occurred_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('events');
}
