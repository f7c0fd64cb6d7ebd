import { createRemoteJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { runCommand } from '../../src/cli/commands.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { field } from '../support/browser.ts';
import { box, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { eventually, reservePort, startNoticeReceiver, type NoticeReceiver, type ReceivedNotice } from '../support/notices.ts';
import { expectDescribedNotice } from '../support/contract.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Every kind of notice a partner receives (added, updated, removed with its
 * cause, tokens revoked with the reason, suspended, resumed, test), in order
 * per authorization, signed and verified the way the README shows, and the
 * portal's delivery log with its test and redeliver buttons.
 */

const env = { NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '300', NOTICE_MAX_ATTEMPTS: '3', ...keyEncryptionEnv };

let server: TestServer;
const receivers: NoticeReceiver[] = [];

beforeAll(async () => {
  server = await startTestServer(env);
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await server?.close();
});

async function receiver(options: Parameters<typeof startNoticeReceiver>[0] = {}): Promise<NoticeReceiver> {
  const started = await startNoticeReceiver(options);
  receivers.push(started);
  return started;
}

const operator = (argv: string[]) =>
  runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);

/** The README's verification, as a partner would paste it. */
async function verifyNotice(issuer: string, signatureHeader: string, rawBody: string): Promise<Record<string, unknown>> {
  const keys = createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
  const { t, kid, es256 } = Object.fromEntries(signatureHeader.split(',').map((part) => part.split('='))) as Record<string, string>;
  const key = await keys({ alg: 'ES256', kid });
  const signed = new TextEncoder().encode(`${t}.${rawBody}`);
  const ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key as Parameters<typeof crypto.subtle.verify>[1], Buffer.from(es256!, 'base64url'), signed);
  if (!ok || Math.abs(Date.now() / 1000 - Number(t)) > 300) throw new Error('not a fresh notice from appgrant');
  return JSON.parse(rawBody) as Record<string, unknown>;
}

async function verified(notices: ReceivedNotice[]): Promise<Record<string, unknown>[]> {
  const bodies = [];
  for (const notice of notices) {
    expectDescribedNotice(notice.headers, notice.body);
    bodies.push(await verifyNotice(server.url, String(notice.headers['appgrant-signature']), notice.body));
  }
  return bodies;
}

/** A partner registered by its own account with a notice URL, and an owner with one app. */
async function setUp(noticeUrl: string | undefined, permissions = ['app:read', 'message:send']) {
  const developer = await server.createOwner({ appNames: [] });
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'HelpDesk Pro',
    redirectUris: ['https://partner.example/callback'],
    permissions,
    accountId: developer.account.id,
    ...(noticeUrl ? { removeUrl: noticeUrl } : {}),
  });
  const owner = await server.createOwner();
  return {
    developer: { email: developer.account.email, password: developer.password },
    partner: { id: created.partner.id, secret: created.clientSecret },
    owner: { email: owner.account.email, password: owner.password, appId: owner.apps[0]!.id },
  };
}

const liveAuthorization = (db: Knex, partnerId: string) => db('authorizations').where({ partner_id: partnerId }).whereNull('revoked_at').first();

describe('every kind of notice', () => {
  it('is delivered once, signed, verified against /oauth/jwks, and in order per authorization', async () => {
    const target = await receiver();
    const { partner, owner } = await setUp(`${target.url}/notices`);
    await oauthToken(server.url, partner, owner, owner.appId);
    const authorization = await liveAuthorization(server.db, partner.id);
    await oauthToken(server.url, partner, owner, owner.appId, 'app:read');
    await operator(['partner', 'suspend', partner.id]);
    await operator(['partner', 'resume', partner.id]);
    await operator(['partner', 'revoke-tokens', partner.id, '--reason', 'secret_leak']);
    await operator(['authorization', 'revoke', authorization.id]);

    const bodies = await verified(await target.waitFor(6));
    const about = (kind: 'authorization' | 'partner') => bodies.filter((body) => (kind === 'authorization') === (body.authorizationId !== undefined));
    expect(about('authorization').map((body) => body.event)).toEqual(['integration.added', 'integration.updated', 'integration.tokens_revoked', 'integration.removed']);
    expect(about('partner').map((body) => body.event)).toEqual(['integration.suspended', 'integration.resumed']);
    const byEvent = new Map(bodies.map((body) => [body.event, body]));
    const common = { clientId: partner.id, id: expect.stringMatching(/^ntc_/), occurredAt: expect.any(String) };
    const onApp = { ...common, appId: owner.appId, authorizationId: authorization.id };
    expect(byEvent.get('integration.added')).toEqual({ ...onApp, event: 'integration.added', permissions: ['app:read', 'message:send'] });
    expect(byEvent.get('integration.updated')).toEqual({ ...onApp, event: 'integration.updated', permissions: ['app:read'], previousPermissions: ['app:read', 'message:send'] });
    expect(byEvent.get('integration.tokens_revoked')).toEqual({ ...onApp, event: 'integration.tokens_revoked', reason: 'secret_leak' });
    expect(byEvent.get('integration.removed')).toEqual({ ...onApp, event: 'integration.removed', removedAt: expect.any(String), cause: 'operator' });
    expect(byEvent.get('integration.suspended')).toEqual({ ...common, event: 'integration.suspended' });
    expect(byEvent.get('integration.resumed')).toEqual({ ...common, event: 'integration.resumed' });
    await expect(verifyNotice(server.url, String(target.received[0]!.headers['appgrant-signature']), target.received[0]!.body.replace('integration', 'xntegration'))).rejects.toThrow(/not a fresh notice/);
    await new Promise((done) => setTimeout(done, 400));
    expect(target.received).toHaveLength(6);
  });

  it('an approval that changes nothing sends no update', async () => {
    const target = await receiver();
    const { partner, owner } = await setUp(`${target.url}/notices`);
    await oauthToken(server.url, partner, owner, owner.appId);
    await oauthToken(server.url, partner, owner, owner.appId);
    await target.waitFor(1);
    await new Promise((done) => setTimeout(done, 400));
    expect(target.received.map((notice) => (JSON.parse(notice.body) as { event: string }).event)).toEqual(['integration.added']);
  });

  it('a later notice waits while an earlier one of the same authorization is retried', async () => {
    const target = await receiver({ answers: [{ status: 500 }, { status: 503 }], fallback: { status: 200 } });
    const { partner, owner } = await setUp(`${target.url}/notices`);
    const tokens = await oauthToken(server.url, partner, owner, owner.appId);
    expect((await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(204);
    const arrived = await target.waitFor(4, 15_000);
    expect(arrived.map((notice) => (JSON.parse(notice.body) as { event: string }).event)).toEqual([
      'integration.added', 'integration.added', 'integration.added', 'integration.removed',
    ]);
  });
});

describe('the delivery log in the portal', () => {
  async function portalPage(developer: { email: string; password: string }, partnerId: string) {
    const { browser } = await logInToDashboard(server.url, developer);
    const page = async () => (await browser.get(`/partners/${partnerId}/notices`)).text();
    const post = async (path: string) => browser.post(path, { _csrf: field(await page(), '_csrf') ?? '' });
    return { browser, page, post };
  }

  it('shows every attempt, sends a test notice, redelivers by hand after an outage', async () => {
    const port = await reservePort();
    const { partner, developer } = await setUp(`http://127.0.0.1:${port}/notices`);
    const portal = await portalPage(developer, partner.id);
    const queued = await portal.post(`/partners/${partner.id}/notices/test`);
    expect(queued.status).toBe(303);
    expect(queued.headers.get('location')).toBe(`/partners/${partner.id}/notices?done=test`);
    const notice = await eventually(async () => {
      const row = await server.db('removal_notices').where({ partner_id: partner.id }).first();
      return row?.failed_at ? row : undefined;
    }, 15_000, 'the test notice to fail while the receiver is down');
    const failedPage = await portal.page();
    expect(failedPage).toContain('notice.test');
    expect(failedPage).toContain('Failed');
    expect(failedPage.match(/ECONNREFUSED/g)).toHaveLength(3);
    expect(await server.db('notice_attempts').where({ notice_id: notice.id })).toHaveLength(3);

    const target = await receiver({ port });
    const redelivered = await portal.post(`/partners/${partner.id}/notices/${notice.id}/redeliver`);
    expect(redelivered.status).toBe(303);
    const [arrived] = await target.waitFor(1);
    expect(await verifyNotice(server.url, String(arrived!.headers['appgrant-signature']), arrived!.body)).toMatchObject({ id: notice.id, event: 'notice.test' });
    await eventually(async () => (await server.db('removal_notices').where({ id: notice.id }).first())?.delivered_at, 10_000, 'delivery');
    const deliveredPage = await portal.page();
    expect(deliveredPage).toContain('Delivered');
    expect(deliveredPage).toMatch(/>200<\/td><td[^>]*>\d+ ms<\/td>/);
    const events = await server.db('events').where({ type: 'notice.redelivered', target_id: notice.id });
    expect(events).toMatchObject([{ partner_id: partner.id, actor_type: 'owner' }]);
  });

  it('refuses a pending notice, another partner’s notice, and a test without a notice URL', async () => {
    const port = await reservePort();
    const mine = await setUp(`http://127.0.0.1:${port}/notices`);
    const theirs = await setUp(undefined);
    const portal = await portalPage(mine.developer, mine.partner.id);
    expect((await portal.post(`/partners/${mine.partner.id}/notices/test`)).status).toBe(303);
    const pending = await server.db('removal_notices').where({ partner_id: mine.partner.id }).first();
    const early = await portal.post(`/partners/${mine.partner.id}/notices/${pending.id}/redeliver`);
    expect(early.status).toBe(409);
    expect(await early.text()).toContain('still being delivered');

    // Another partner's notice, reached through this partner's page or that partner's own: not found either way.
    await server.db('partners').where({ id: theirs.partner.id }).update({ remove_url: `http://127.0.0.1:${port}/theirs` });
    const theirPortal = await portalPage(theirs.developer, theirs.partner.id);
    expect((await theirPortal.post(`/partners/${theirs.partner.id}/notices/test`)).status).toBe(303);
    const theirNotice = await server.db('removal_notices').where({ partner_id: theirs.partner.id }).first();
    expect((await portal.post(`/partners/${mine.partner.id}/notices/${theirNotice.id}/redeliver`)).status).toBe(404);
    expect((await portal.post(`/partners/${theirs.partner.id}/notices/${theirNotice.id}/redeliver`)).status).toBe(404);
    expect((await portal.browser.get(`/partners/${theirs.partner.id}/notices`)).status).toBe(404);
    expect(await portal.page()).not.toContain(theirNotice.id);

    await server.db('partners').where({ id: theirs.partner.id }).update({ remove_url: null });
    const withoutUrl = await theirPortal.post(`/partners/${theirs.partner.id}/notices/test`);
    expect(withoutUrl.status).toBe(400);
    expect(await withoutUrl.text()).toContain('Register a notice URL');
    expect(await server.db('removal_notices').where({ partner_id: theirs.partner.id })).toHaveLength(1);
    // Without the CSRF token nothing is queued.
    expect((await portal.browser.post(`/partners/${mine.partner.id}/notices/test`, {})).status).toBe(403);
    expect(await server.db('removal_notices').where({ partner_id: mine.partner.id })).toHaveLength(1);
  });
});
