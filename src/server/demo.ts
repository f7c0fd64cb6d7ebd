import type { Knex } from 'knex';
import type { PasswordHasher } from '../accounts/password-hasher.ts';
import type { SecretHasher } from '../partners/partner-secrets.ts';
import { createAccount } from '../accounts/accounts.ts';
import { createApp } from '../apps/apps.ts';
import { createPartner, type PartnerUrlRules } from '../partners/partners.ts';

/**
 * Fixed demo data so the README's walk-through can be pasted as it is. Only
 * ever created outside production, and only into an empty database.
 */
export const demo = {
  email: 'owner@example.com',
  password: 'demo owner passphrase',
  apps: ['Demo Support', 'Demo Sales'],
  partner: {
    clientId: 'ptn_demo',
    clientSecret: 'agcs_DemoPartnerSecretNotForProduction00000000001OQrgX',
    name: 'Demo Partner',
    redirectUri: 'http://localhost:8080/callback',
    // Where the example partner (examples/partner, `npm run example:partner`) takes notices.
    removeUrl: 'http://localhost:8080/notices',
  },
};

export async function seedDemo(db: Knex, hasher: PasswordHasher, partnerSecrets: SecretHasher, rules: PartnerUrlRules): Promise<boolean> {
  const existing = await db('accounts').select('id').first();
  if (existing) return false;
  const account = await createAccount(db, hasher, { email: demo.email, password: demo.password, name: 'Demo Owner' });
  for (const name of demo.apps) await createApp(db, account.id, { displayName: name });
  await createPartner(
    db,
    partnerSecrets,
    rules,
    { name: demo.partner.name, redirectUris: [demo.partner.redirectUri], permissions: ['app:read', 'message:send', 'inbound-message:read'] },
    { id: demo.partner.clientId, clientSecret: demo.partner.clientSecret },
  );
  return true;
}

export function demoBanner(issuer: string): string {
  return [
    '',
    'Demo data created (development only):',
    `  app owner   ${demo.email} / ${demo.password}  (apps: ${demo.apps.join(', ')})`,
    `  partner     client_id=${demo.partner.clientId} client_secret=${demo.partner.clientSecret}`,
    `              redirect_uri=${demo.partner.redirectUri}`,
    `  try         ${issuer}/oauth/authorize?client_id=${demo.partner.clientId}&response_type=code&state=xyz`,
    '',
  ].join('\n');
}
