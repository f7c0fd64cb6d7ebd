import type { Knex } from 'knex';

/**
 * Notices of every kind share the outbox. `seq` orders them as they were
 * queued, so notices about one authorization (or, for notices about the
 * partner as a whole, about one partner) are delivered one after another in
 * that order. Every delivery attempt is kept for the partner's delivery log:
 * when, what the partner answered, how long it took, and when the next try is.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table removal_notices add column seq bigserial');
  await knex.raw(`create index removal_notices_in_order on removal_notices ((coalesce(authorization_id, partner_id)), seq)
    where delivered_at is null and failed_at is null`);
  await knex.raw('create index removal_notices_of_partner on removal_notices (partner_id, seq)');
  await knex.schema.createTable('notice_attempts', (table) => {
    table.bigIncrements('id').primary();
    table.string('notice_id', 64).notNullable().references('removal_notices.id').onDelete('CASCADE');
    table.timestamp('attempted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.integer('status_code');
    table.integer('latency_ms').notNullable();
    table.text('error');
    table.timestamp('next_attempt_at', { useTz: true });
    table.index(['notice_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notice_attempts');
  await knex.raw('drop index removal_notices_of_partner');
  await knex.raw('drop index removal_notices_in_order');
  await knex.raw('alter table removal_notices drop column seq');
}
