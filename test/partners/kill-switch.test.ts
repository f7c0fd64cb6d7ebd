import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createAccount } from '../../src/accounts/accounts.ts';
import { createApp } from '../../src/apps/apps.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import type { Settings } from '../../src/config/settings.ts';
import type { Knex } from 'knex';
import { box, call, expectUnauthorized, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { introspect } from '../support/flow.ts';
import { checkNoticeSignature, eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { createPostgresDatabase, testDatabaseKind } from '../support/database.ts';
import { startTestServer, testSettings, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The operator's kill switch: `partner suspend` refuses every token of every
 * installation from the next request, keeps every approval, tells owners and
 * the partner; `partner resume` gives the same tokens back; `partner
 * revoke-tokens` ends every token and keeps the approvals.
 */

const noticeEnv = { NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '100', ...keyEncryptionEnv };

const operator = (db: Knex, settings: Settings) => (argv: string[]) =>
  runCommand({ db, settings, hasher: passwordHasherFor(settings), box: async () => box }, argv);

interface Installed {
  partner: { id: string; secret: string };
  owners: { email: string; password: string; appId: string; tokens: { access_token: string; refresh_token: string } }[];
}

/** A partner with a notice URL, installed through the real flow on one app of each of two owners. */
async function installOnTwoOwners(base: string, db: Knex, settings: Settings, removeUrl: string): Promise<Installed> {
  const hasher = passwordHasherFor(settings);
  const created = await createPartner(db, hasher, settings, {
    name: 'HelpDesk Pro',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read', 'keys:manage'],
    removeUrl,
  });
  const partner = { id: created.partner.id, secret: created.clientSecret };
  const owners = [];
  for (const name of ['First', 'Second']) {
    const password = 'correct horse battery';
    const account = await createAccount(db, hasher, { email: `${name.toLowerCase()}-${Date.now()}-${Math.random()}@example.com`, password, name });
    const app = await createApp(db, account.id, { displayName: `${name} app` });
    const tokens = await oauthToken(base, partner, { email: account.email, password }, app.id);
    owners.push({ email: account.email, password, appId: app.id, tokens });
  }
  return { partner, owners };
}

const bearer = (token: string) => `Bearer ${token}`;

async function refresh(base: string, partner: { id: string; secret: string }, refreshToken: string): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(partner.id, partner.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

/** The notices of these kinds the receiver has got so far (installations send their own `integration.added` too). */
function parsedNotices(receiver: NoticeReceiver, events: string[]): Record<string, unknown>[] {
  return receiver.received.map((notice) => JSON.parse(notice.body) as Record<string, unknown>).filter((notice) => events.includes(notice.event as string));
}

/** The first notice of this kind to arrive, with its raw request. */
async function noticeOf(receiver: NoticeReceiver, event: string) {
  return eventually(async () => receiver.received.find((notice) => (JSON.parse(notice.body) as { event: string }).event === event), 10_000, event);
}

describe('suspend and resume on one instance', () => {
  let server: TestServer;
  let receiver: NoticeReceiver;
  let installed: Installed;
  let command: ReturnType<typeof operator>;

  beforeAll(async () => {
    server = await startTestServer(noticeEnv);
    receiver = await startNoticeReceiver();
    command = operator(server.db, server.settings);
    installed = await installOnTwoOwners(server.url, server.db, server.settings, `${receiver.url}/notices`);
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  it('refuses every token and key of every installation, keeps the approvals, and tells owners and the partner', async () => {
    const [first, second] = installed.owners as [Installed['owners'][0], Installed['owners'][0]];
    const keyResponse = await call(server.url, 'POST', `/v2/apps/${first.appId}/keys`, { auth: bearer(first.tokens.access_token), body: { displayName: 'Minted by partner' } });
    expect(keyResponse.status).toBe(201);
    const { key } = (await keyResponse.json()) as { key: { id: string; secret: string } };
    const keyAuth = basicAuth(key.id, key.secret);
    expect((await call(server.url, 'GET', `/v2/apps/${first.appId}`, { auth: keyAuth })).status).toBe(200);

    const result = await command(['partner', 'suspend', installed.partner.id]);
    expect(result).toMatchObject({ client_id: installed.partner.id, suspended: true, changed: true });

    for (const owner of [first, second]) {
      const refused = await call(server.url, 'GET', `/v2/apps/${owner.appId}`, { auth: bearer(owner.tokens.access_token) });
      expect(refused.headers.get('www-authenticate')).toMatch(/suspended by the platform/);
      await expectUnauthorized(refused);
      const refreshed = await refresh(server.url, installed.partner, owner.tokens.refresh_token);
      expect(refreshed.status).toBe(400);
      expect(await refreshed.json()).toEqual({ error: 'unauthorized_client', error_description: 'the integration is suspended by the platform' });
      expect((await introspect(server.url, installed.partner, owner.tokens.access_token)).active).toBe(false);
    }
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${first.appId}`, { auth: keyAuth }));
    // A new installation cannot start either.
    const authorize = await fetch(`${server.url}/oauth/authorize?${new URLSearchParams({ client_id: installed.partner.id, response_type: 'code' })}`, { redirect: 'manual' });
    expect(authorize.headers.get('location') ?? '').toMatch(/error=invalid_request&error_description=requested\+response_type\+is\+not\+allowed/);

    expect(await server.db('authorizations').where({ partner_id: installed.partner.id }).whereNull('revoked_at')).toHaveLength(2);
    const { browser } = await logInToDashboard(server.url, first);
    expect(await (await browser.get(`/dashboard/apps/${first.appId}`)).text()).toContain('Suspended by the platform');

    const notice = await noticeOf(receiver, 'integration.suspended');
    expect(JSON.parse(notice.body)).toMatchObject({ event: 'integration.suspended', clientId: installed.partner.id, id: expect.stringMatching(/^ntc_/) });
    expect((await checkNoticeSignature(server.url, notice.headers['appgrant-signature'], notice.body)).valid).toBe(true);
    const events = await server.db('events').where({ type: 'partner.suspended', partner_id: installed.partner.id });
    expect(events).toMatchObject([{ actor_type: 'operator' }]);
  });

  it('suspending again changes nothing and sends nothing', async () => {
    expect(await command(['partner', 'suspend', installed.partner.id])).toMatchObject({ suspended: true, changed: false });
    expect(await server.db('events').where({ type: 'partner.suspended', partner_id: installed.partner.id })).toHaveLength(1);
    expect(await server.db('removal_notices').where({ partner_id: installed.partner.id }).whereRaw("payload->>'event' = ?", ['integration.suspended'])).toHaveLength(1);
  });

  it('resume gives the same tokens back with nothing for owners to do', async () => {
    expect(await command(['partner', 'resume', installed.partner.id])).toMatchObject({ suspended: false, changed: true });
    for (const owner of installed.owners) {
      expect((await call(server.url, 'GET', `/v2/apps/${owner.appId}`, { auth: bearer(owner.tokens.access_token) })).status).toBe(200);
      expect((await introspect(server.url, installed.partner, owner.tokens.access_token)).active).toBe(true);
      const refreshed = await refresh(server.url, installed.partner, owner.tokens.refresh_token);
      expect(refreshed.status).toBe(200);
      owner.tokens = (await refreshed.json()) as typeof owner.tokens;
    }
    const { browser } = await logInToDashboard(server.url, installed.owners[0]!);
    expect(await (await browser.get(`/dashboard/apps/${installed.owners[0]!.appId}`)).text()).not.toContain('Suspended by the platform');
    await noticeOf(receiver, 'integration.resumed');
    expect(parsedNotices(receiver, ['integration.suspended', 'integration.resumed']).map((notice) => notice.event)).toEqual(['integration.suspended', 'integration.resumed']);
  });

  it('refuses an unknown client id, a resource server and a stray option, writing nothing', async () => {
    const operatorEvents = () => server.db('events').whereNot('type', 'like', 'notice.%').count({ n: '*' }).first();
    const before = await operatorEvents();
    await expect(command(['partner', 'suspend', 'ptn_nosuchpartner'])).rejects.toThrow(UsageError);
    const resourceServer = await server.createResourceServer();
    await expect(command(['partner', 'suspend', resourceServer.partner.id])).rejects.toThrow(/no partner/);
    await expect(command(['partner', 'resume'])).rejects.toThrow(/expects exactly one id/);
    await expect(command(['partner', 'suspend', installed.partner.id, '--force'])).rejects.toThrow(UsageError);
    expect(await operatorEvents()).toEqual(before);
    expect(await server.db('partners').whereNotNull('suspended_at')).toHaveLength(0);
  });
});

describe('revoke-tokens', () => {
  let server: TestServer;
  let receiver: NoticeReceiver;
  let installed: Installed;
  let command: ReturnType<typeof operator>;

  beforeAll(async () => {
    server = await startTestServer(noticeEnv);
    receiver = await startNoticeReceiver();
    command = operator(server.db, server.settings);
    installed = await installOnTwoOwners(server.url, server.db, server.settings, `${receiver.url}/notices`);
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  it('refuses a bad reason and an unknown partner, ending nothing', async () => {
    await expect(command(['partner', 'revoke-tokens', installed.partner.id, '--reason', 'Leaked Secret!'])).rejects.toThrow(/--reason takes a short code/);
    await expect(command(['partner', 'revoke-tokens', 'ptn_unknown'])).rejects.toThrow(/no partner ptn_unknown/);
    for (const owner of installed.owners) {
      expect((await call(server.url, 'GET', `/v2/apps/${owner.appId}`, { auth: bearer(owner.tokens.access_token) })).status).toBe(200);
    }
    expect(await server.db('events').where({ type: 'authorization.tokens_revoked' })).toHaveLength(0);
  });

  it('ends every token of the partner, keeps every approval, records and notifies each with the reason', async () => {
    const result = await command(['partner', 'revoke-tokens', installed.partner.id, '--reason', 'secret_leak']);
    expect(result).toEqual({ client_id: installed.partner.id, reason: 'secret_leak', authorizations: 2 });
    for (const owner of installed.owners) {
      await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${owner.appId}`, { auth: bearer(owner.tokens.access_token) }));
      const refreshed = await refresh(server.url, installed.partner, owner.tokens.refresh_token);
      expect((await refreshed.json()) as { error: string }).toMatchObject({ error: 'invalid_grant' });
    }
    const live = await server.db('authorizations').where({ partner_id: installed.partner.id }).whereNull('revoked_at').orderBy('created_at');
    expect(live.map((row) => row.app_id)).toEqual(installed.owners.map((owner) => owner.appId));
    const events = await server.db('events').where({ type: 'authorization.tokens_revoked' }).orderBy('id');
    expect(events.map((event) => [event.target_id, event.cause, event.actor_type])).toEqual(live.map((row) => [row.id, 'secret_leak', 'operator']));

    await eventually(async () => parsedNotices(receiver, ['integration.tokens_revoked']).length === 2, 10_000, 'both tokens_revoked notices');
    const notices = parsedNotices(receiver, ['integration.tokens_revoked']);
    expect(notices.map((notice) => [notice.event, notice.appId, notice.reason]).sort()).toEqual(
      installed.owners.map((owner) => ['integration.tokens_revoked', owner.appId, 'secret_leak']).sort(),
    );
    // The owner's next approval continues the same authorization with new tokens.
    const [first] = installed.owners;
    const again = await oauthToken(server.url, installed.partner, first!, first!.appId);
    expect((await call(server.url, 'GET', `/v2/apps/${first!.appId}`, { auth: bearer(again.access_token) })).status).toBe(200);
    expect(await server.db('authorizations').where({ partner_id: installed.partner.id }).whereNull('revoked_at')).toHaveLength(2);
  });
});

describe.runIf(testDatabaseKind === 'postgres')('suspension across two instances on one PostgreSQL', () => {
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  let settings: Settings;
  let receiver: NoticeReceiver;

  beforeAll(async () => {
    postgres = await createPostgresDatabase();
    settings = testSettings({ DATABASE_URL: postgres.url, ...noticeEnv });
    const logger = createLogger(settings.LOG_LEVEL);
    a = await startServer({ settings, logger });
    b = await startServer({ settings: { ...settings, ISSUER: a.issuer }, logger });
    settings = { ...settings, ISSUER: a.issuer };
    receiver = await startNoticeReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await b?.close();
    await a?.close();
    await postgres?.drop();
  });

  it('a suspension made through A is seen by B on the next request, and so is the resumption', async () => {
    const installed = await installOnTwoOwners(a.url, a.database.knex, settings, `${receiver.url}/notices`);
    const owner = installed.owners[0]!;
    const auth = bearer(owner.tokens.access_token);
    expect((await call(b.url, 'GET', `/v2/apps/${owner.appId}`, { auth })).status).toBe(200);
    await operator(a.database.knex, settings)(['partner', 'suspend', installed.partner.id]);
    await expectUnauthorized(await call(b.url, 'GET', `/v2/apps/${owner.appId}`, { auth }));
    expect((await introspect(b.url, installed.partner, owner.tokens.access_token)).active).toBe(false);
    await operator(a.database.knex, settings)(['partner', 'resume', installed.partner.id]);
    expect((await call(b.url, 'GET', `/v2/apps/${owner.appId}`, { auth })).status).toBe(200);
    await noticeOf(receiver, 'integration.resumed');
  });
});
