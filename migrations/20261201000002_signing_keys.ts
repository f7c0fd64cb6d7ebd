import type { Knex } from 'knex';

/**
 * Signing keys, one row each, so every instance can follow a rotation while
 * it runs: a key is published (in /oauth/jwks) from created_at, signs from
 * signs_from, and once retired stays published until withdrawn_at. The
 * private key is kept sealed under the key-encryption keys. Keys kept before
 * in server_keys are moved here by the first process that opens the set
 * (src/keys/signing-keys.ts): sealing needs keys a migration does not have.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signing_keys', (table) => {
    table.string('kid', 64).primary();
    table.text('sealed_private_jwk').notNullable();
    table.jsonb('public_jwk').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('signs_from', { useTz: true }).notNullable();
    table.timestamp('retired_at', { useTz: true });
    table.timestamp('withdrawn_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('signing_keys');
}
