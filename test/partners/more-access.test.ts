import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { field } from '../support/browser.ts';
import { box, call, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { introspect } from '../support/flow.ts';
import { eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * A partner adds a permission: installations keep what was approved; each
 * owner sees the request on the dashboard, with what is new and the
 * partner's note, and approves (tokens already issued gain it at once) or
 * declines (nothing changes); the partner is told either way.
 */

let server: TestServer;
let receiver: NoticeReceiver;
let partner: { id: string; secret: string };
const owners: { email: string; password: string; appId: string; token: string }[] = [];

const operator = (argv: string[]) => runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);
const events = (owner: (typeof owners)[number]) => call(server.url, 'GET', `/v2/apps/${owner.appId}/events`, { auth: `Bearer ${owner.token}` });

beforeAll(async () => {
  server = await startTestServer({ NOTICE_POLL_INTERVAL_MS: '100', ...keyEncryptionEnv });
  receiver = await startNoticeReceiver();
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'HelpDesk Pro',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read'],
    removeUrl: `${receiver.url}/notices`,
  });
  partner = { id: created.partner.id, secret: created.clientSecret };
  for (let index = 0; index < 2; index += 1) {
    const owner = await server.createOwner();
    const credentials = { email: owner.account.email, password: owner.password };
    const tokens = await oauthToken(server.url, partner, credentials, owner.apps[0]!.id);
    owners.push({ ...credentials, appId: owner.apps[0]!.id, token: tokens.access_token });
  }
  await operator(['partner', 'update', partner.id, '--permission', 'app:read', '--permission', 'events:read', '--access-note', 'To show your activity in tickets']);
});

afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

async function answer(owner: (typeof owners)[number], decision: string, appId = owner.appId, authorizationId?: string) {
  const { browser } = await logInToDashboard(server.url, owner);
  const page = await (await browser.get(`/dashboard/apps/${owner.appId}`)).text();
  const id = authorizationId ?? (await server.db('authorizations').where({ app_id: owner.appId }).whereNull('revoked_at').first()).id;
  return browser.post(`/dashboard/apps/${appId}/integrations/${id}/more-access`, { _csrf: field(page, '_csrf') ?? '', decision });
}

describe('asking for more access', () => {
  it('keeps what was approved and shows each owner exactly what is new, with the note', async () => {
    for (const owner of owners) expect((await events(owner)).status).toBe(403);
    const { browser } = await logInToDashboard(server.url, owners[0]!);
    const list = await (await browser.get('/dashboard')).text();
    expect(list).toContain('HelpDesk Pro asks for more access');
    expect(list).toContain(`href="/dashboard/apps/${owners[0]!.appId}"`);
    const page = await (await browser.get(`/dashboard/apps/${owners[0]!.appId}`)).text();
    expect(page).toContain('HelpDesk Pro asks for more access');
    expect(page).toContain('<code class="scope">events:read</code>');
    expect(page).not.toMatch(/asks for more access[\s\S]*<code class="scope">app:read<\/code>[\s\S]*Decline/);
    expect(page).toContain('To show your activity in tickets');
  });

  it('refuses an answer for another owner’s authorization, and a missing decision, changing nothing', async () => {
    const [first, second] = owners as [(typeof owners)[0], (typeof owners)[0]];
    const theirs = (await server.db('authorizations').where({ app_id: first.appId }).whereNull('revoked_at').first()).id;
    expect((await answer(second, 'approve', second.appId, theirs)).status).toBe(404);
    expect((await answer(second, 'approve', first.appId, theirs)).status).toBe(404);
    expect((await answer(first, 'maybe')).status).toBe(400);
    expect((await server.db('authorizations').where({ id: theirs }).first()).permissions).toEqual(['app:read']);
  });

  it('approving gives tokens already issued the new permission at once; the partner is told', async () => {
    const [first] = owners;
    expect((await answer(first!, 'approve')).status).toBe(303);
    expect((await events(first!)).status).toBe(200);
    expect((await introspect(server.url, partner, first!.token)).scope).toBe('app:read events:read');
    const current = (await (await call(server.url, 'GET', '/v2/credentials/current', { auth: `Bearer ${first!.token}` })).json()) as { credential: { permissions: string[] } };
    expect(current.credential.permissions).toEqual(['app:read', 'events:read']);
    const notice = await eventually(async () => receiver.received.find((received) => received.body.includes('"integration.updated"') && received.body.includes(first!.appId)), 10_000, 'the update notice');
    expect(JSON.parse(notice.body)).toMatchObject({ permissions: ['app:read', 'events:read'], previousPermissions: ['app:read'] });
    const { browser } = await logInToDashboard(server.url, first!);
    expect(await (await browser.get(`/dashboard/apps/${first!.appId}`)).text()).not.toContain('asks for more access');
  });

  it('declining changes nothing, is not asked again, and the partner is told', async () => {
    const [, second] = owners;
    expect((await answer(second!, 'decline')).status).toBe(303);
    expect((await events(second!)).status).toBe(403);
    expect((await introspect(server.url, partner, second!.token)).scope).toBe('app:read');
    const { browser } = await logInToDashboard(server.url, second!);
    expect(await (await browser.get(`/dashboard/apps/${second!.appId}`)).text()).not.toContain('asks for more access');
    expect(await (await browser.get('/dashboard')).text()).not.toContain('asks for more access');
    const notice = await eventually(async () => receiver.received.find((received) => received.body.includes('"integration.more_access_declined"')), 10_000, 'the decline notice');
    expect(JSON.parse(notice.body)).toMatchObject({ appId: second!.appId, permissions: ['app:read'], declined: ['events:read'] });
    const recorded = await server.db('events').where({ type: 'authorization.more_access_declined', app_id: second!.appId });
    expect(recorded).toMatchObject([{ actor_type: 'owner' }]);
    // Nothing is left to answer: a second answer changes nothing.
    expect((await answer(second!, 'approve')).status).toBe(303);
    expect((await events(second!)).status).toBe(403);
  });
});

describe('the owner narrows an authorization', () => {
  async function post(owner: (typeof owners)[number], appId: string, authorizationId: string, permissions: string[]) {
    const { browser } = await logInToDashboard(server.url, owner);
    const page = await (await browser.get(`/dashboard/apps/${owner.appId}`)).text();
    const body = new URLSearchParams({ _csrf: field(page, '_csrf') ?? '' });
    for (const name of permissions) body.append('permissions', name);
    return browser.request(`/dashboard/apps/${appId}/integrations/${authorizationId}/access`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  }

  it('refuses keeping nothing, keeping what it does not hold, and another owner’s authorization', async () => {
    const [first, second] = owners as [(typeof owners)[0], (typeof owners)[0]];
    const authorization = await server.db('authorizations').where({ app_id: first.appId }).whereNull('revoked_at').first();
    expect((await post(first, first.appId, authorization.id, [])).status).toBe(400);
    expect((await post(first, first.appId, authorization.id, ['app:read', 'app:manage'])).status).toBe(400);
    expect((await post(second, second.appId, authorization.id, ['app:read'])).status).toBe(404);
    expect((await server.db('authorizations').where({ id: authorization.id }).first()).permissions).toEqual(['app:read', 'events:read']);
  });

  it('takes a permission away at once, and the partner is told', async () => {
    const [first] = owners as [(typeof owners)[0]];
    const authorization = await server.db('authorizations').where({ app_id: first.appId }).whereNull('revoked_at').first();
    const { browser } = await logInToDashboard(server.url, first);
    const form = await (await browser.get(`/dashboard/apps/${first.appId}/integrations/${authorization.id}/access`)).text();
    expect(form).toContain('value="events:read" checked');
    expect((await post(first, first.appId, authorization.id, ['app:read'])).status).toBe(303);
    expect((await events(first)).status).toBe(403);
    expect((await introspect(server.url, partner, first.token)).scope).toBe('app:read');
    const recorded = await server.db('events').where({ type: 'authorization.updated', target_id: authorization.id, cause: 'narrowed_by_owner' });
    expect(recorded).toMatchObject([{ actor_type: 'owner' }]);
    await eventually(async () => receiver.received.some((received) => received.body.includes('"previousPermissions":["app:read","events:read"]') && received.body.includes('"permissions":["app:read"]')), 10_000, 'the narrowing notice');
    expect(await (await browser.get(`/dashboard/apps/${first.appId}`)).text()).not.toContain('asks for more access');
  });
});
