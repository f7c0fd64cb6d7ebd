import { loadSettings, type Settings } from '../../src/config/settings.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createAccount, type Account } from '../../src/accounts/accounts.ts';
import { createApp, type App } from '../../src/apps/apps.ts';
import { createPartner, createResourceServer, type CreatedPartner } from '../../src/partners/partners.ts';
import { partnerSecretsFor } from '../../src/partners/partner-secrets.ts';
import type { Database } from '../../src/db/database.ts';
import { createTestDatabase } from './database.ts';

export interface TestServer extends RunningServer {
  settings: Settings;
  db: Database['knex'];
  createOwner(options?: { appNames?: string[]; password?: string }): Promise<{ account: Account; apps: App[]; password: string }>;
  createPartner(options?: { redirectUris?: string[]; permissions?: string[]; approved?: boolean; accountId?: string }): Promise<CreatedPartner>;
  createResourceServer(): Promise<CreatedPartner>;
}

let counter = 0;

/**
 * Settings every test server shares: a random port on loopback, quiet logs,
 * no demo data, and removal notices allowed to reach the tests' own
 * receivers on 127.0.0.1 (a server that checks the outbound rules sets
 * OUTBOUND_ALLOW_PRIVATE_TARGETS=false).
 */
export function testSettings(env: Record<string, string> = {}): Settings {
  return loadSettings({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    ISSUER: 'http://127.0.0.1:0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SEED_DEMO: 'false',
    OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true',
    ...env,
  });
}

/** A real server on a random port, on this test file's own database. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await createTestDatabase();
  const settings = testSettings(env);
  const logger = createLogger(settings.LOG_LEVEL);
  const running = await startServer({ settings, logger, database });
  const hasher = passwordHasherFor(settings);
  const db = database.knex;
  return {
    ...running,
    settings: { ...settings, ISSUER: running.issuer },
    db,
    async createOwner({ appNames = ['Support'], password = 'correct horse battery' } = {}) {
      counter += 1;
      const account = await createAccount(db, hasher, { email: `owner${counter}-${Date.now()}@example.com`, password, name: 'Owner' });
      const apps = [];
      for (const name of appNames) apps.push(await createApp(db, account.id, { displayName: name }));
      return { account, apps, password };
    },
    async createPartner({ redirectUris = ['https://partner.example/callback'], permissions = ['app:read', 'message:send'], approved = true, accountId } = {}) {
      return createPartner(db, await partnerSecretsFor(db, settings.KEY_ENCRYPTION_KEYS), settings, { name: 'Acme Integration', redirectUris, permissions, approved, accountId });
    },
    async createResourceServer() {
      return createResourceServer(db, await partnerSecretsFor(db, settings.KEY_ENCRYPTION_KEYS), 'Platform API');
    },
  };
}
