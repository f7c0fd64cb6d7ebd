import type { Knex } from 'knex';

/**
 * API keys: an id and a secret owned by an app (app level), an account or a
 * service account (account level). The secret is kept encrypted, not hashed,
 * because verifying a JWT's HMAC needs it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('service_accounts', (table) => {
    table.string('id', 64).primary();
    table.string('account_id', 64).notNullable().references('accounts.id').onDelete('CASCADE');
    table.string('name', 200).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['account_id']);
  });

  await knex.schema.createTable('api_keys', (table) => {
    table.string('id', 64).primary();
    table.string('owner_type', 32).notNullable();
    table.string('account_id', 64).notNullable().references('accounts.id').onDelete('CASCADE');
    table.string('app_id', 64).references('apps.id').onDelete('CASCADE');
    table.string('service_account_id', 64).references('service_accounts.id').onDelete('CASCADE');
    table.string('display_name', 200).notNullable();
    table.jsonb('permissions').notNullable().defaultTo('[]');
    table.jsonb('allowed_ips').notNullable().defaultTo('[]');
    table.timestamp('expires_at', { useTz: true });
    table.text('secret_ciphertext').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true });
    table.timestamp('revoked_at', { useTz: true });
    table.index(['app_id']);
    table.index(['account_id']);
  });
  await knex.raw(`alter table api_keys add constraint api_keys_owner check (
    (owner_type = 'app' and app_id is not null and service_account_id is null) or
    (owner_type = 'account' and app_id is null and service_account_id is null) or
    (owner_type = 'service_account' and app_id is null and service_account_id is not null))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('api_keys');
  await knex.schema.dropTableIfExists('service_accounts');
}
