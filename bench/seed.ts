import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { Settings } from '../src/config/settings.ts';
import { createAccount } from '../src/accounts/accounts.ts';
import { createApp, type App } from '../src/apps/apps.ts';
import { createApiKey } from '../src/credentials/api-keys.ts';
import type { SecretBox } from '../src/keys/secret-box.ts';
import { createPartner, createResourceServer } from '../src/partners/partners.ts';
import { partnerSecretsFor } from '../src/partners/partner-secrets.ts';
import { passwordHasherFor } from '../src/accounts/password-hasher.ts';
import type { Owner, Partner } from './flow-client.ts';

export const redirectUri = 'https://partner.example/callback';
export const partnerPermissions = ['app:read', 'message:send'];

export interface OwnerWithApp extends Owner {
  accountId: string;
  app: App;
}

export interface Fixtures {
  /** Owns the app every /v2 scenario reads; also the one who logs in on the dashboard. */
  owner: OwnerWithApp;
  partner: Partner;
  resourceServer: Partner;
  /** An app-level API key of owner.app (with every permission, chosen as "all"). */
  appKey: { id: string; secret: string };
  /** One owner per flow worker, each with exactly one app, so concurrent consents never replace each other's. */
  flowOwners: OwnerWithApp[];
}

async function ownerWithApp(db: Knex, settings: Settings, label: string): Promise<OwnerWithApp> {
  const password = `bench-${randomBytes(12).toString('base64url')}`;
  const email = `${label}-${randomBytes(4).toString('hex')}@bench.example`;
  const account = await createAccount(db, passwordHasherFor(settings), { email, password, name: label });
  const app = await createApp(db, account.id, { displayName: `${label} app` });
  return { email: account.email, password, accountId: account.id, app };
}

/**
 * Everything the scenarios need, made with the project's own functions
 * (production password-hash cost, secrets sealed with the server's key), as
 * an operator or the dashboard would make them.
 */
export async function seed(db: Knex, settings: Settings, box: SecretBox, flowWorkers: number): Promise<Fixtures> {
  // Partner secrets as the server makes them now: keyed digests (src/partners/partner-secrets.ts).
  const partnerSecrets = await partnerSecretsFor(db, settings.KEY_ENCRYPTION_KEYS);
  const owner = await ownerWithApp(db, settings, 'owner');
  const created = await createPartner(db, partnerSecrets, settings, {
    name: 'Bench Integration',
    redirectUris: [redirectUri],
    permissions: partnerPermissions,
    approved: true,
  });
  const resourceServer = await createResourceServer(db, partnerSecrets, 'Platform API');
  const { key, secret } = await createApiKey(db, box, { type: 'app', appId: owner.app.id, accountId: owner.accountId }, { displayName: 'Bench key', permissions: ['all'] }, { audit: { actor: { type: 'operator' } } });
  const flowOwners: OwnerWithApp[] = [];
  for (let index = 0; index < flowWorkers; index += 1) flowOwners.push(await ownerWithApp(db, settings, `flow${index}`));
  return {
    owner,
    partner: { id: created.partner.id, secret: created.clientSecret },
    resourceServer: { id: resourceServer.partner.id, secret: resourceServer.clientSecret },
    appKey: { id: key.id, secret },
    flowOwners,
  };
}
