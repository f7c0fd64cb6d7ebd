import type { Knex } from 'knex';

/**
 * Throttling counters shared by every instance (when no Redis is
 * configured): one row per limited subject, holding the attempts reserved in
 * the current window and when that window ends (epoch milliseconds). The
 * shape is the one rate-limiter-flexible's PostgreSQL store reads and
 * writes. It replaces login_failures, whose failures were counted only after
 * the password had been checked.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('rate_limits', (table) => {
    table.string('key', 255).primary();
    table.integer('points').notNullable().defaultTo(0);
    table.bigInteger('expire');
    table.index(['expire']);
  });
  await knex.schema.dropTableIfExists('login_failures');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('login_failures', (table) => {
    table.string('subject', 400).primary();
    table.integer('failures').notNullable();
    table.timestamp('window_started_at', { useTz: true }).notNullable();
    table.timestamp('blocked_until', { useTz: true });
  });
  await knex.schema.dropTableIfExists('rate_limits');
}
