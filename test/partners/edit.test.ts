import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { basicAuth } from '../support/basic.ts';
import { CookieBrowser, field, formAction } from '../support/browser.ts';
import { box, call, expectUnauthorized, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { exchangeCode, introspect } from '../support/flow.ts';
import { eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * A partner edits its integration in the portal (the operator with `partner
 * update`): what owners see on the consent page of an approved integration
 * waits for the operator's review, everything else is in force at once; and
 * it can delete the integration, ending every installation.
 */

let server: TestServer;
let receiver: NoticeReceiver;

beforeAll(async () => {
  server = await startTestServer({ NOTICE_POLL_INTERVAL_MS: '100', ...keyEncryptionEnv });
  receiver = await startNoticeReceiver();
});

afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

const operator = (argv: string[]) => runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);

async function register(approved: boolean, removeUrl?: string) {
  const developer = await server.createOwner({ appNames: [] });
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'HelpDesk Pro',
    description: 'Tickets from conversations',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read'],
    accountId: developer.account.id,
    approved,
    ...(removeUrl ? { removeUrl } : {}),
  });
  const { browser } = await logInToDashboard(server.url, { email: developer.account.email, password: developer.password });
  return { id: created.partner.id, secret: created.clientSecret, browser };
}

/** Posts the edit form as the browser would: every field, from the page, with these changed. */
async function submitEdit(browser: CookieBrowser, id: string, changes: Record<string, string | string[]>): Promise<Response> {
  const page = await (await browser.get(`/partners/${id}/edit`)).text();
  const form: Record<string, string | string[]> = { _csrf: field(page, '_csrf') ?? '' };
  for (const name of ['name', 'description', 'developer', 'logoUrl', 'website', 'privacyPolicyUrl', 'termsUrl', 'removeUrl']) form[name] = field(page, name) ?? '';
  form.redirectUris = /name="redirectUris"[^>]*>([^<]*)</.exec(page)?.[1] ?? '';
  form.permissions = [...page.matchAll(/name="permissions" value="([^"]+)" checked/g)].map((match) => match[1]!);
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...form, ...changes })) for (const one of [value].flat()) body.append(name, one);
  return browser.request(`/partners/${id}/edit`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
}

/** The consent page an owner reaches for this partner, after logging in and picking an app. */
async function consentPage(partnerId: string): Promise<string> {
  const owner = await server.createOwner();
  const browser = new CookieBrowser(server.url);
  const follow = async (response: Response) => {
    for (let hops = 0; hops < 6 && response.status >= 300 && response.status < 400; hops += 1) response = await browser.get(response.headers.get('location')!);
    return response;
  };
  let response = await follow(await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partnerId, response_type: 'code' })}`));
  let page = await response.text();
  if (page.includes('name="password"')) {
    response = await follow(await browser.post(formAction(page, '/login'), { _csrf: field(page, '_csrf') ?? '', email: owner.account.email, password: owner.password }));
    page = await response.text();
  }
  if (page.includes('name="decision"')) return page;
  return (await browser.get(`${new URL(response.url).pathname}?app=${owner.apps[0]!.id}`)).text();
}

describe('editing', () => {
  it('puts every change of an integration not yet approved in force at once', async () => {
    const partner = await register(false);
    const saved = await submitEdit(partner.browser, partner.id, { name: 'HelpDesk Pro 2', permissions: ['app:read', 'message:send'], website: 'https://helpdesk.example' });
    expect(saved.status).toBe(303);
    const row = await server.db('partners').where({ id: partner.id }).first();
    expect(row).toMatchObject({ name: 'HelpDesk Pro 2', permissions: ['app:read', 'message:send'], website: 'https://helpdesk.example', pending_changes: null });
    const event = await server.db('events').where({ type: 'partner.updated', partner_id: partner.id }).first();
    expect(event.detail).toMatchObject({ fields: ['name', 'permissions', 'website'], awaitingReview: [] });
  });

  it('holds consent-page changes of an approved integration for review, the approved values in force meanwhile', async () => {
    const partner = await register(true);
    const saved = await submitEdit(partner.browser, partner.id, {
      name: 'HelpDesk Ultra',
      description: 'Now with more',
      permissions: ['app:read', 'message:send'],
      redirectUris: 'https://partner.example/callback\nhttps://partner.example/other',
    });
    expect(saved.status).toBe(303);
    const row = await server.db('partners').where({ id: partner.id }).first();
    expect(row).toMatchObject({ name: 'HelpDesk Pro', description: 'Tickets from conversations', permissions: ['app:read'] });
    expect(row.redirect_uris).toEqual(['https://partner.example/callback', 'https://partner.example/other']);
    expect(row.pending_changes).toEqual({ name: 'HelpDesk Ultra', description: 'Now with more', permissions: ['app:read', 'message:send'] });
    const waiting = await consentPage(partner.id);
    expect(waiting).toContain('HelpDesk Pro');
    expect(waiting).not.toContain('HelpDesk Ultra');
    expect(waiting).toContain('<code class="scope">app:read</code>');
    expect(waiting).not.toContain('message:send');
    expect(await (await partner.browser.get(`/partners/${partner.id}/edit`)).text()).toContain('Waiting for review');

    // Changed back to the approved value: no longer waiting.
    await submitEdit(partner.browser, partner.id, { description: 'Tickets from conversations' });
    expect((await server.db('partners').where({ id: partner.id }).first()).pending_changes).toEqual({ name: 'HelpDesk Ultra', permissions: ['app:read', 'message:send'] });

    const approved = await operator(['partner', 'approve', partner.id]);
    expect(approved).toMatchObject({ name: 'HelpDesk Ultra', permissions: ['app:read', 'message:send'], pending_changes: null });
    const shown = await consentPage(partner.id);
    expect(shown).toContain('HelpDesk Ultra');
    expect(shown).toContain('<code class="scope">message:send</code>');
    const event = await server.db('events').where({ type: 'partner.approved', partner_id: partner.id }).first();
    expect(event.detail.applied).toEqual(['name', 'permissions']);
  });

  it('refuses bad input field by field and writes nothing', async () => {
    const partner = await register(false);
    const before = await server.db('partners').where({ id: partner.id }).first();
    const refused = await submitEdit(partner.browser, partner.id, { name: '', website: 'not a url', redirectUris: 'https://partner.example/cb#frag', permissions: [] });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    for (const id of ['name-error', 'website-error', 'redirectUris-error', 'permissions-error']) expect(page).toContain(`id="${id}"`);
    expect(page).toContain('value="not a url"');
    expect(await server.db('partners').where({ id: partner.id }).first()).toEqual(before);
    expect(await server.db('events').where({ type: 'partner.updated', partner_id: partner.id })).toEqual([]);
  });

  it('never shows or saves another account’s integration', async () => {
    const mine = await register(false);
    const theirs = await register(false);
    expect((await mine.browser.get(`/partners/${theirs.id}/edit`)).status).toBe(404);
    const page = await (await mine.browser.get(`/partners/${mine.id}/edit`)).text();
    const posted = await mine.browser.post(`/partners/${theirs.id}/edit`, { _csrf: field(page, '_csrf') ?? '', name: 'Hijacked', redirectUris: 'https://evil.example/cb', permissions: 'app:read' });
    expect(posted.status).toBe(404);
    expect((await mine.browser.post(`/partners/${theirs.id}/delete`, { _csrf: field(page, '_csrf') ?? '' })).status).toBe(404);
    expect(await server.db('partners').where({ id: theirs.id }).first()).toMatchObject({ name: 'HelpDesk Pro', deleted_at: null });
  });

  it('`partner update`: the operator’s changes are in force at once; bad input is refused', async () => {
    const partner = await register(true);
    const updated = await operator(['partner', 'update', partner.id, '--name', 'Renamed by operator', '--website', '', '--permission', 'app:read', '--permission', 'events:read']);
    expect(updated).toMatchObject({ name: 'Renamed by operator', website: null, permissions: ['app:read', 'events:read'], pending_changes: null, changed: ['name', 'permissions'] });
    await expect(operator(['partner', 'update', partner.id])).rejects.toThrow(/at least one field/);
    await expect(operator(['partner', 'update', partner.id, '--logo-url', 'http://insecure.example/logo.png'])).rejects.toThrow(UsageError);
    await expect(operator(['partner', 'update', 'ptn_nobody', '--name', 'X'])).rejects.toThrow(/no partner ptn_nobody/);
    expect((await server.db('partners').where({ id: partner.id }).first()).logo_url).toBeNull();
  });
});

describe('removing a permission', () => {
  it('takes effect on every installation at once: tokens, introspection and the partner’s notice', async () => {
    const partner = await register(true, `${receiver.url}/narrowed`);
    await operator(['partner', 'update', partner.id, '--permission', 'app:read', '--permission', 'events:read']);
    const owner = await server.createOwner();
    const appId = owner.apps[0]!.id;
    const tokens = await oauthToken(server.url, partner, { email: owner.account.email, password: owner.password }, appId);
    const auth = `Bearer ${tokens.access_token}`;
    expect((await call(server.url, 'GET', `/v2/apps/${appId}/events`, { auth })).status).toBe(200);

    await operator(['partner', 'update', partner.id, '--permission', 'app:read']);
    expect((await call(server.url, 'GET', `/v2/apps/${appId}/events`, { auth })).status).toBe(403);
    expect((await call(server.url, 'GET', `/v2/apps/${appId}`, { auth })).status).toBe(200);
    const current = (await (await call(server.url, 'GET', '/v2/credentials/current', { auth })).json()) as { credential: { permissions: string[] } };
    expect(current.credential.permissions).toEqual(['app:read']);
    expect((await introspect(server.url, partner, tokens.access_token)).scope).toBe('app:read');
    const authorization = await server.db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at').first();
    expect(authorization.permissions).toEqual(['app:read']);
    expect(await server.db('events').where({ type: 'authorization.updated', target_id: authorization.id, cause: 'permissions_removed' })).toHaveLength(1);
    const notice = await eventually(async () => receiver.received.find((received) => received.path === '/narrowed' && received.body.includes('"integration.updated"')), 10_000, 'the update notice');
    expect(JSON.parse(notice.body)).toMatchObject({ appId, permissions: ['app:read'], previousPermissions: ['app:read', 'events:read'] });
  });
});

describe('deleting', () => {
  it('ends every installation, reports each as removed, and the credentials stop working', async () => {
    const partner = await register(true, `${receiver.url}/notices`);
    const installs = [];
    for (let index = 0; index < 2; index += 1) {
      const owner = await server.createOwner();
      const credentials = { email: owner.account.email, password: owner.password };
      installs.push({ appId: owner.apps[0]!.id, tokens: await oauthToken(server.url, partner, credentials, owner.apps[0]!.id) });
    }
    const confirm = await (await partner.browser.get(`/partners/${partner.id}/delete`)).text();
    expect(confirm).toContain('It is installed on 2 app(s)');
    const deleted = await partner.browser.post(`/partners/${partner.id}/delete`, { _csrf: field(confirm, '_csrf') ?? '' });
    expect(deleted.status).toBe(303);
    for (const install of installs) {
      await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${install.appId}`, { auth: `Bearer ${install.tokens.access_token}` }));
    }
    const removals = await server.db('events').where({ type: 'authorization.removed', partner_id: partner.id });
    expect(removals.map((event) => event.cause)).toEqual(['partner_deleted', 'partner_deleted']);
    await eventually(async () => receiver.received.filter((notice) => notice.body.includes('"cause":"partner_deleted"')).length === 2, 10_000, 'two removal notices');
    expect((await exchangeCode(server.url, partner, { code: 'whatever' })).status).toBe(401);
    await expectUnauthorized(await call(server.url, 'GET', '/v2/partner/installations', { auth: basicAuth(partner.id, partner.secret) }));
    expect((await partner.browser.get(`/partners/${partner.id}`)).status).toBe(404);
    expect(await operator(['partner', 'list'])).not.toMatchObject({ partners: expect.arrayContaining([expect.objectContaining({ client_id: partner.id })]) });
    await expect(operator(['partner', 'delete', partner.id])).rejects.toThrow(/no partner/);
  });
});
