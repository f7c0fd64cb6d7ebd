import type { Knex } from 'knex';

/**
 * A key created with a partner's token records the authorization it came
 * through, and is revoked with it. Keys stored with no permissions used to
 * mean "every permission of the level"; that rule is gone (permissions are
 * named, or "all" is chosen explicitly), so such keys get that list written
 * out (the whole catalog of the time, since an app key also signs appUser
 * JWTs and an account key creates app keys): what they could do before, and
 * nothing added to the catalog later.
 */
const everyPermission = [
  'app:read', 'app:manage', 'message:send', 'inbound-message:read', 'users:manage', 'webhooks:manage',
  'integrations:manage', 'keys:manage', 'web:sdk', 'mobile-app-messaging:sdk',
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_keys', (table) => {
    table.string('authorization_id', 64).references('authorizations.id').onDelete('CASCADE');
    table.index(['authorization_id']);
  });
  await knex('api_keys').whereRaw(`permissions = '[]'::jsonb`).update({ permissions: JSON.stringify(everyPermission) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_keys', (table) => {
    table.dropColumn('authorization_id');
  });
}
