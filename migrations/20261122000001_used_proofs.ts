import type { Knex } from 'knex';

/**
 * Proofs that may be used once (RFC 9449 DPoP proofs, by key and jti), kept
 * until they would be refused as stale anyway. Every instance records here,
 * so a proof replayed against another instance is refused too.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('used_proofs', (table) => {
    table.string('id', 64).primary();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('used_proofs');
}
