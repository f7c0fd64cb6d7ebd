import knexFactory, { type Knex } from 'knex';
import { loadSettings } from '../../src/config/settings.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createAccount, type Account } from '../../src/accounts/accounts.ts';
import { createApp, type App } from '../../src/apps/apps.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { appKey, type IssuedKey } from './credentials.ts';
import type { Cluster } from './postgres-cluster.ts';

/**
 * What the fault tests act on, written straight into a database that
 * servers running as processes have migrated: an owner with apps, an
 * approved partner and an API key for the first app.
 */
export interface World {
  owner: { account: Account; email: string; password: string };
  apps: App[];
  partner: { id: string; secret: string };
  key: IssuedKey;
}

/** An empty database on the cluster; a direct (not pooled) connection to it is opened by the caller once migrated. */
export async function createClusterDatabase(cluster: Cluster, name: string): Promise<void> {
  const admin = knexFactory({ client: 'pg', connection: cluster.url(), pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } finally {
    await admin.destroy();
  }
}

export function directConnection(url: string): Knex {
  return knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
}

export async function seedWorld(db: Knex, appNames = ['Support']): Promise<World> {
  const settings = loadSettings({ NODE_ENV: 'test' });
  const hasher = passwordHasherFor(settings);
  const password = 'correct horse battery';
  const email = `owner-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const account = await createAccount(db, hasher, { email, password, name: 'Owner' });
  const apps: App[] = [];
  for (const displayName of appNames) apps.push(await createApp(db, account.id, { displayName }));
  const { partner, clientSecret } = await createPartner(db, hasher, settings, {
    name: 'Acme Integration',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read', 'message:send'],
    approved: true,
  });
  return { owner: { account, email, password }, apps, partner: { id: partner.id, secret: clientSecret }, key: await appKey(db, apps[0]!) };
}
