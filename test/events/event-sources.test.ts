import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import type { StoredEvent } from '../../src/events/events.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { basicAuth } from '../support/basic.ts';
import { CookieBrowser, field, text } from '../support/browser.ts';
import { accountKey, appKey, basic, box, call, expectForbidden, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Where each kind of audit event comes from (README, "Audit trail"): the
 * action, through the surface that offers it, leaves exactly one event of
 * its type with the right actor, target and cause; a refused action leaves
 * none. audit-trail.test.ts covers sign-ins, approvals, keys over the API and
 * who may read what; this file the rest.
 */

let server: TestServer;
const receivers: NoticeReceiver[] = [];

beforeAll(async () => {
  // No grace for a reused refresh token, so its replay ends the authorization at once.
  server = await startTestServer({ ...keyEncryptionEnv, NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '100', NOTICE_MAX_ATTEMPTS: '2', REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0' });
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await server?.close();
});

async function newestEventId(): Promise<number> {
  const row = await server.db('events').max({ id: 'id' }).first();
  return Number(row?.id ?? 0);
}

async function eventsSince(id: number, where: Partial<Record<keyof StoredEvent, string>> = {}): Promise<StoredEvent[]> {
  return server.db('events').where('id', '>', id).andWhere(where).orderBy('id');
}

function operator(args: string[]): Promise<unknown> {
  return runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, args);
}

type Owner = Awaited<ReturnType<TestServer['createOwner']>>;
const credentialsOf = (owner: Owner) => ({ email: owner.account.email, password: owner.password });

describe('sign-ins', () => {
  it('a login refused by the throttle is recorded as throttled, once, for the account', async () => {
    const owner = await server.createOwner();
    const before = await newestEventId();
    const browser = new CookieBrowser(server.url);
    const page = await (await browser.get('/login')).text();
    const attempt = (password: string) => browser.post('/login', { _csrf: field(page, '_csrf') ?? '', email: owner.account.email, password });
    for (let index = 0; index < 5; index += 1) expect((await attempt(`wrong password number ${index}`)).status).toBe(401);
    expect((await attempt(owner.password)).status).toBe(429);

    const events = await eventsSince(before, { account_id: owner.account.id });
    expect(events.map((event) => event.type)).toEqual([...Array(5).fill('owner.login_failed'), 'owner.login_throttled']);
    expect(events.at(-1)).toMatchObject({ actor_type: 'owner', actor_id: owner.account.id, target_type: 'account', target_id: owner.account.id });
    expect(events.at(-1)?.client_ip).toMatch(/127\.0\.0\.1/);
  });
});

describe('partners', () => {
  it('registered, redirect URLs changed and secret rotated in the portal by their owner; approved by the operator; a refused change records nothing', async () => {
    const developer = await server.createOwner();
    const { browser } = await logInToDashboard(server.url, credentialsOf(developer));
    const before = await newestEventId();
    const registered = await submitForm(browser, '/partners', '/partners', {
      name: 'HelpDesk Pro',
      redirectUris: 'https://helpdesk.example/callback',
      permissions: 'app:read',
    });
    expect(registered.status).toBeLessThan(400);
    const partner = await server.db('partners').where({ account_id: developer.account.id }).first();
    const page = `/partners/${partner.id}`;

    const refused = await submitForm(browser, page, `${page}/redirect-uris`, { redirectUris: 'not a url' });
    expect(refused.status).toBe(400);
    const changed = await submitForm(browser, page, `${page}/redirect-uris`, { redirectUris: 'https://helpdesk.example/callback\nhttps://helpdesk.example/other' });
    expect(changed.status).toBeLessThan(400);
    const rotated = await submitForm(browser, page, `${page}/rotate-secret`);
    expect(rotated.status).toBeLessThan(400);
    await operator(['partner', 'approve', partner.id]);

    const events = await eventsSince(before, { partner_id: partner.id });
    expect(events.map((event) => event.type)).toEqual(['partner.registered', 'partner.redirect_urls_changed', 'partner.secret_rotated', 'partner.approved']);
    const byOwner = { actor_type: 'owner', actor_id: developer.account.id, account_id: developer.account.id, target_type: 'partner', target_id: partner.id };
    expect(events[0]).toMatchObject(byOwner);
    expect(events[0]?.detail).toMatchObject({ partnerName: 'HelpDesk Pro', permissions: ['app:read'] });
    expect(events[1]).toMatchObject(byOwner);
    expect(events[1]?.detail).toMatchObject({ redirectUris: ['https://helpdesk.example/callback', 'https://helpdesk.example/other'] });
    expect(events[2]).toMatchObject(byOwner);
    expect(events[3]).toMatchObject({ actor_type: 'operator', actor_id: null, target_id: partner.id });

    const activity = text(await (await browser.get(`${page}/activity`)).text());
    expect(activity).toContain('Activity is kept for 400 days');
  });
});

describe('removal notices', () => {
  /** A partner with a removeUrl answered by `receiver`, connected to a new owner's app and then removing itself. */
  async function removedPartner(receiver: NoticeReceiver): Promise<{ partnerId: string; appId: string }> {
    const owner = await server.createOwner({ appNames: ['Noticed'] });
    const hasher = passwordHasherFor(server.settings);
    const created = await createPartner(server.db, hasher, server.settings, {
      name: 'Notified Partner',
      redirectUris: ['https://partner.example/callback'],
      permissions: ['app:read'],
      removeUrl: `${receiver.url}/removed`,
    });
    const client = { id: created.partner.id, secret: created.clientSecret };
    const token = await oauthToken(server.url, client, credentialsOf(owner), owner.apps[0]!.id);
    const gone = await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${token.access_token}` } });
    expect(gone.status).toBe(204);
    return { partnerId: client.id, appId: owner.apps[0]!.id };
  }

  /** Waits until every notice queued for the partner is decided; returns each with the audit events about it. */
  async function decidedNotices(partnerId: string): Promise<{ id: string; event: string; events: StoredEvent[] }[]> {
    return eventually(async () => {
      const notices: { id: string; payload: { event: string } | string }[] = await server.db('removal_notices').where({ partner_id: partnerId }).orderBy('seq');
      const decided = await Promise.all(
        notices.map(async (notice) => ({
          id: notice.id,
          event: (typeof notice.payload === 'string' ? (JSON.parse(notice.payload) as { event: string }) : notice.payload).event,
          events: await eventsSince(0, { target_id: notice.id }),
        })),
      );
      return decided.every((notice) => notice.events.length) ? decided : undefined;
    }, 20_000, 'every notice decided');
  }

  it('each delivered notice is recorded once by appgrant, naming the partner, the app and the notice', async () => {
    const receiver = await startNoticeReceiver({ fallback: { status: 204 } });
    receivers.push(receiver);
    const { partnerId, appId } = await removedPartner(receiver);
    const notices = await decidedNotices(partnerId);
    expect(notices.map((notice) => notice.event)).toEqual(['integration.added', 'integration.removed']);
    for (const notice of notices) {
      expect(notice.events).toHaveLength(1);
      expect(notice.events[0]).toMatchObject({ type: 'notice.delivered', actor_type: 'system', partner_id: partnerId, app_id: appId, target_type: 'notice', cause: null });
      expect(notice.events[0]?.detail).toMatchObject({ attempts: 1, event: notice.event });
    }
  });

  it('each notice given up after its last attempt is recorded once as failed, with the cause; the failed attempts before record nothing', async () => {
    const receiver = await startNoticeReceiver({ fallback: { status: 500 } });
    receivers.push(receiver);
    const { partnerId } = await removedPartner(receiver);
    const notices = await decidedNotices(partnerId);
    expect(receiver.received).toHaveLength(2 * notices.length);
    for (const notice of notices) {
      expect(notice.events).toHaveLength(1);
      expect(notice.events[0]).toMatchObject({ type: 'notice.failed', actor_type: 'system', target_type: 'notice', cause: 'gave_up' });
      expect(notice.events[0]?.detail).toMatchObject({ attempts: 2, event: notice.event });
    }
  });
});

describe('how an authorization ends', () => {
  async function connected(): Promise<{ owner: Owner; client: { id: string; secret: string }; token: Awaited<ReturnType<typeof oauthToken>> }> {
    const owner = await server.createOwner({ appNames: ['Ending'] });
    const created = await server.createPartner({ permissions: ['app:read'] });
    const client = { id: created.partner.id, secret: created.clientSecret };
    return { owner, client, token: await oauthToken(server.url, client, credentialsOf(owner), owner.apps[0]!.id) };
  }

  const removals = (partnerId: string) => eventsSince(0, { partner_id: partnerId, type: 'authorization.removed' });

  it('RFC 7009 revocation by the partner: cause partner_revoke, by the partner', async () => {
    const { client, token } = await connected();
    const revoked = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: token.access_token }),
    });
    expect(revoked.status).toBe(200);
    expect(await removals(client.id)).toMatchObject([{ cause: 'partner_revoke', actor_type: 'partner', actor_id: client.id, target_type: 'authorization' }]);
  });

  it('a replayed refresh token: cause refresh_replay, by appgrant', async () => {
    const { client, token } = await connected();
    const refresh = () =>
      fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token.refresh_token }),
      });
    expect((await refresh()).status).toBe(200);
    expect(await removals(client.id)).toEqual([]);
    expect((await refresh()).status).toBe(400);
    expect(await removals(client.id)).toMatchObject([{ cause: 'refresh_replay', actor_type: 'system', actor_id: null }]);
  });

  it('the app deleted through the API: cause app_deleted, by the key that deleted it', async () => {
    const { owner, client } = await connected();
    const key = await accountKey(server.db, owner.account.id);
    const deleted = await call(server.url, 'DELETE', `/v2/apps/${owner.apps[0]!.id}`, { auth: basic(key) });
    expect(deleted.status).toBeLessThan(300);
    expect(await removals(client.id)).toMatchObject([{ cause: 'app_deleted', actor_type: 'api_key', actor_id: key.id, app_id: owner.apps[0]!.id }]);
  });

  it('the operator: cause operator, by the operator; an unknown id is refused and records nothing', async () => {
    const { client } = await connected();
    const authorization = await server.db('authorizations').where({ partner_id: client.id }).first();
    const before = await newestEventId();
    await expect(operator(['authorization', 'revoke', 'no-such-authorization'])).rejects.toThrow(UsageError);
    expect(await eventsSince(before)).toEqual([]);
    await operator(['authorization', 'revoke', authorization.id]);
    expect(await removals(client.id)).toMatchObject([{ cause: 'operator', actor_type: 'operator', target_id: authorization.id }]);
  });
});

describe('refused key uses', () => {
  it('an expired key is refused with the 403 and recorded once, however often it is tried', async () => {
    const owner = await server.createOwner({ appNames: ['Expiring'] });
    const app = owner.apps[0]!;
    const key = await appKey(server.db, app, { displayName: 'Old deploy', permissions: ['app:read'] });
    await server.db('api_keys').where({ id: key.id }).update({ expires_at: new Date(Date.now() - 60_000) });
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
    const [refused] = await eventually(async () => {
      const found = await eventsSince(0, { target_id: key.id, type: 'key.refused_expired' });
      return found.length ? found : undefined;
    }, 5_000, 'the key.refused_expired event');
    expect(refused).toMatchObject({ actor_type: 'api_key', actor_id: key.id, app_id: app.id, cause: 'expired' });
    expect(refused?.detail).toMatchObject({ keyName: 'Old deploy' });
    expect(await eventsSince(0, { target_id: key.id })).toHaveLength(2);
  });
});

describe('operator commands', () => {
  it('each command that changes something is recorded once, with its name and option names; reading commands and refusals are not', async () => {
    const before = await newestEventId();
    const account = (await operator(['account', 'create', '--email', 'operated@example.com', '--password', 'operated by the command line'])) as { id: string };
    const app = (await operator(['app', 'create', '--account', account.id, '--name', 'Operated'])) as { id: string };
    const partner = (await operator(['partner', 'create', '--name', 'Operated Partner', '--redirect-uri', 'https://operated.example/cb', '--permission', 'app:read'])) as { client_id: string };
    await operator(['partner', 'approve', partner.client_id]);
    await operator(['partner', 'suspend', partner.client_id]);
    await operator(['partner', 'resume', partner.client_id]);
    await operator(['service-account', 'create', '--account', account.id, '--name', 'Provisioning']);
    await operator(['resource-server', 'create', '--name', 'Platform API']);
    const key = (await operator(['key', 'create', '--app', app.id, '--permission', 'app:read', '--name', 'Operated key'])) as { id: string };
    await operator(['key', 'revoke', key.id]);
    const rotated = (await operator(['signing-keys', 'rotate'])) as { kid: string };
    await operator(['signing-keys', 'retire', rotated.kid]);
    for (const reading of [['partner', 'list'], ['authorization', 'list'], ['signing-keys', 'list'], ['events', '--since', new Date().toISOString()]]) await operator(reading);
    await expect(operator(['app', 'create', '--account', 'nobody@example.com', '--name', 'Orphan'])).rejects.toThrow(UsageError);

    const commands = (await eventsSince(before, { type: 'operator.command' })).map((event) => event.detail as { command: string; options: string[] });
    expect(commands).toEqual([
      { command: 'account create', options: ['email', 'password'] },
      { command: 'app create', options: ['account', 'name'] },
      { command: 'partner create', options: ['name', 'permission', 'redirect-uri'] },
      { command: 'partner approve', options: ['id'] },
      { command: 'partner suspend', options: ['id'] },
      { command: 'partner resume', options: ['id'] },
      { command: 'service-account create', options: ['account', 'name'] },
      { command: 'resource-server create', options: ['name'] },
      { command: 'key create', options: ['app', 'name', 'permission'] },
      { command: 'key revoke', options: ['id'] },
      { command: 'signing-keys rotate', options: [] },
      { command: 'signing-keys retire', options: ['kid'] },
    ]);
    for (const type of ['signing_key.rotated', 'signing_key.retired']) {
      expect(await eventsSince(before, { type })).toMatchObject([{ actor_type: 'operator', target_type: 'signing_key', target_id: rotated.kid }]);
    }
    expect(JSON.stringify(await eventsSince(before))).not.toContain('operated by the command line');
  });
});
