import type { Knex } from 'knex';

/**
 * What the consent page tells an owner about who is asking, beyond a name:
 * a short description, the developer behind the integration, and where its
 * privacy policy and terms are published. All optional; partners registered
 * before keep working and show only what they gave.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.text('description');
    table.string('developer', 200);
    table.text('privacy_policy_url');
    table.text('terms_url');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('partners', (table) => {
    table.dropColumns('description', 'developer', 'privacy_policy_url', 'terms_url');
  });
}
