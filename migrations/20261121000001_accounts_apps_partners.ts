import type { Knex } from 'knex';

/**
 * The core of ownership (accounts own apps), the partners that ask for access
 * to apps, the authorizations owners grant them, and the storage that the
 * OAuth engine keeps its sessions, interactions, codes and tokens in.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (table) => {
    table.string('id', 64).primary();
    table.string('email', 320).notNullable();
    table.string('name', 200).notNullable().defaultTo('');
    table.text('password_hash').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create unique index accounts_email_unique on accounts (lower(email))');

  await knex.schema.createTable('apps', (table) => {
    table.string('id', 64).primary();
    table.string('account_id', 64).notNullable().references('accounts.id').onDelete('CASCADE');
    table.string('display_name', 200).notNullable();
    table.jsonb('settings').notNullable().defaultTo('{}');
    table.jsonb('metadata');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.index(['account_id', 'created_at']);
  });

  await knex.schema.createTable('partners', (table) => {
    table.string('id', 64).primary();
    table.string('role', 32).notNullable().defaultTo('partner');
    table.string('name', 200).notNullable();
    table.string('account_id', 64).references('accounts.id').onDelete('SET NULL');
    table.text('logo_url');
    table.text('website');
    table.jsonb('redirect_uris').notNullable().defaultTo('[]');
    table.jsonb('permissions').notNullable().defaultTo('[]');
    table.text('remove_url');
    table.text('secret_hash').notNullable();
    table.text('previous_secret_hash');
    table.timestamp('previous_secret_expires_at', { useTz: true });
    table.boolean('approved').notNullable().defaultTo(true);
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('authorizations', (table) => {
    table.string('id', 64).primary();
    table.string('partner_id', 64).notNullable().references('partners.id').onDelete('CASCADE');
    table.string('app_id', 64).notNullable().references('apps.id').onDelete('CASCADE');
    table.string('account_id', 64).notNullable().references('accounts.id').onDelete('CASCADE');
    table.string('grant_id', 64).notNullable();
    table.jsonb('permissions').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('last_used_at', { useTz: true });
    table.timestamp('revoked_at', { useTz: true });
    table.index(['grant_id']);
    table.index(['app_id']);
  });
  // At most one live authorization per (partner, app).
  await knex.raw(
    'create unique index authorizations_live_unique on authorizations (partner_id, app_id) where revoked_at is null',
  );

  await knex.schema.createTable('oauth_records', (table) => {
    table.string('kind', 64).notNullable();
    table.string('id', 255).notNullable();
    table.jsonb('payload').notNullable();
    table.string('grant_id', 255);
    table.string('uid', 255);
    table.string('user_code', 255);
    table.timestamp('expires_at', { useTz: true });
    table.timestamp('consumed_at', { useTz: true });
    table.primary(['kind', 'id']);
    table.index(['grant_id']);
    table.index(['uid']);
    table.index(['expires_at']);
  });

  // Keys that every instance must share (cookie signing, token signing),
  // generated once when configuration does not provide them.
  await knex.schema.createTable('server_keys', (table) => {
    table.string('purpose', 64).primary();
    table.jsonb('material').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('login_failures', (table) => {
    table.string('subject', 400).primary();
    table.integer('failures').notNullable();
    table.timestamp('window_started_at', { useTz: true }).notNullable();
    table.timestamp('blocked_until', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['login_failures', 'server_keys', 'oauth_records', 'authorizations', 'partners', 'apps', 'accounts']) {
    await knex.schema.dropTableIfExists(table);
  }
}
