import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { CookieBrowser, field, linkTo, text } from '../support/browser.ts';
import { appKey, basic, call, expectForbidden, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { authorizeThroughPages, exchangeCode } from '../support/flow.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { eventually } from '../support/notices.ts';
import { type StoredEvent } from '../../src/events/events.ts';
import { sweepOptionsFrom, sweepRetention } from '../../src/retention/sweep.ts';

const exportToken = 'export-token-for-the-audit-trail-tests-0123456789';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ ...keyEncryptionEnv, EVENTS_EXPORT_TOKEN: exportToken });
});

afterAll(async () => {
  await server?.close();
});

async function eventsOf(where: Partial<Record<keyof StoredEvent, string>>): Promise<StoredEvent[]> {
  return server.db('events').where(where).orderBy('id');
}

async function newestEventId(): Promise<number> {
  const row = await server.db('events').max({ id: 'id' }).first();
  return Number(row?.id ?? 0);
}

async function eventsSince(id: number): Promise<StoredEvent[]> {
  return server.db('events').where('id', '>', id).orderBy('id');
}

describe('owner sign-ins', () => {
  it('a login, a failed login and a logout each leave one event naming the account and the address', async () => {
    const owner = await server.createOwner();
    const before = await newestEventId();
    const wrong = new CookieBrowser(server.url);
    const page = await (await wrong.get('/login')).text();
    const refused = await wrong.post('/login', { _csrf: field(page, '_csrf') ?? '', email: owner.account.email, password: 'not the password at all' });
    expect(refused.status).toBe(401);
    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    const loggedOut = await submitForm(browser, '/dashboard', '/logout');
    expect(loggedOut.status).toBe(303);

    const events = (await eventsSince(before)).filter((event) => event.account_id === owner.account.id);
    expect(events.map((event) => event.type)).toEqual(['owner.login_failed', 'owner.login_succeeded', 'owner.logged_out']);
    for (const event of events) {
      expect(event.actor_type).toBe('owner');
      expect(event.actor_id).toBe(owner.account.id);
      expect(event.client_ip).toMatch(/127\.0\.0\.1/);
    }
  });

  it('a failed login for an email no account has names no account and keeps no email', async () => {
    const before = await newestEventId();
    const browser = new CookieBrowser(server.url);
    const page = await (await browser.get('/login')).text();
    await browser.post('/login', { _csrf: field(page, '_csrf') ?? '', email: 'nobody-here@example.com', password: 'whatever-password' });
    const [event] = await eventsSince(before);
    expect(event?.type).toBe('owner.login_failed');
    expect(event?.account_id).toBeNull();
    expect(JSON.stringify(event)).not.toContain('nobody-here');
  });
});

describe('authorizations', () => {
  it('approve, approve again, remove from the dashboard: approved, updated and removed by the owner, with the app and permissions', async () => {
    const owner = await server.createOwner({ appNames: ['Acme Support'] });
    const app = owner.apps[0]!;
    const partner = await server.createPartner({ permissions: ['app:read', 'message:send'] });
    const credentials = { id: partner.partner.id, secret: partner.clientSecret };
    const ownerCredentials = { email: owner.account.email, password: owner.password };
    await oauthToken(server.url, credentials, ownerCredentials, app.id, 'app:read');
    await oauthToken(server.url, credentials, ownerCredentials, app.id, 'app:read message:send');

    const [approved, updated] = await eventsOf({ app_id: app.id, partner_id: partner.partner.id });
    expect(approved).toMatchObject({ type: 'authorization.approved', actor_type: 'owner', actor_id: owner.account.id, account_id: owner.account.id, target_type: 'authorization' });
    expect(approved?.detail).toMatchObject({ permissions: ['app:read'], appName: 'Acme Support', partnerName: 'Acme Integration' });
    expect(updated).toMatchObject({ type: 'authorization.updated', target_id: approved?.target_id });
    expect(updated?.detail).toMatchObject({ permissions: ['app:read', 'message:send'] });

    const { browser } = await logInToDashboard(server.url, ownerCredentials);
    const appPage = await (await browser.get(`/dashboard/apps/${app.id}`)).text();
    const removed = await browser.post(linkTo(appPage, '/remove'), { _csrf: field(appPage, '_csrf') ?? '' });
    expect(removed.status).toBe(303);
    const removal = (await eventsOf({ app_id: app.id, type: 'authorization.removed' }))[0];
    expect(removal).toMatchObject({ actor_type: 'owner', actor_id: owner.account.id, cause: 'owner', target_id: approved?.target_id });

    const activity = text(await (await browser.get(`/dashboard/apps/${app.id}/activity`)).text());
    expect(activity).toContain('Acme Integration was removed by you from Acme Support');
    expect(activity).toContain('Acme Integration was allowed on Acme Support by you');
  });

  it('a Deny is recorded; a partner removing itself and a replayed code are removed with their causes', async () => {
    const owner = await server.createOwner({ appNames: ['Replay Target'] });
    const app = owner.apps[0]!;
    const partner = await server.createPartner();
    const credentials = { id: partner.partner.id, secret: partner.clientSecret };
    const ownerCredentials = { email: owner.account.email, password: owner.password };

    const denied = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: credentials.id, response_type: 'code' }, ownerCredentials, { decision: 'deny' });
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(await eventsOf({ partner_id: credentials.id, type: 'authorization.denied' })).toHaveLength(1);

    const token = await oauthToken(server.url, credentials, ownerCredentials, app.id);
    const gone = await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${token.access_token}` } });
    expect(gone.status).toBe(204);
    expect(await eventsOf({ partner_id: credentials.id, type: 'authorization.removed' })).toMatchObject([{ cause: 'partner', actor_type: 'partner', actor_id: credentials.id }]);

    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: credentials.id, response_type: 'code' }, ownerCredentials, { appId: app.id });
    const code = callback.searchParams.get('code')!;
    expect((await exchangeCode(server.url, credentials, { code })).status).toBe(200);
    expect((await exchangeCode(server.url, credentials, { code })).status).toBe(400);
    const removals = await eventsOf({ partner_id: credentials.id, type: 'authorization.removed' });
    expect(removals.map((event) => event.cause)).toEqual(['partner', 'code_replay']);
    expect(removals[1]?.actor_type).toBe('system');
  });
});

describe('API keys', () => {
  it('created and revoked through the API with who did it; refused uses are recorded; a failed creation records nothing', async () => {
    const owner = await server.createOwner({ appNames: ['Keyed'] });
    const app = owner.apps[0]!;
    const creator = await appKey(server.db, app, { displayName: 'Creator', permissions: ['keys:manage'] });
    const before = await newestEventId();

    const invalid = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: basic(creator), body: { displayName: '' } });
    expect(invalid.status).toBe(400);
    expect(await eventsSince(before)).toEqual([]);

    const created = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: basic(creator), body: { displayName: 'CI deploy', allowedIps: ['198.51.100.0/24'] } });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: { id: string; secret: string } };
    const [createdEvent] = await eventsSince(before);
    expect(createdEvent).toMatchObject({ type: 'key.created', actor_type: 'api_key', actor_id: creator.id, app_id: app.id, target_id: key.id });
    expect(createdEvent?.detail).toMatchObject({ keyName: 'CI deploy' });

    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic({ id: key.id, secret: key.secret }) }));
    // Refused uses are recorded in the background: the 403 waits on nothing.
    const refused = await eventually(async () => {
      const found = await eventsOf({ target_id: key.id, type: 'key.refused_address' });
      return found.length ? found : undefined;
    }, 5_000, 'the key.refused_address event');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.client_ip).toMatch(/127\.0\.0\.1/);

    const revoked = await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: basic(creator) });
    expect(revoked.status).toBe(200);
    expect(await eventsOf({ target_id: key.id, type: 'key.revoked' })).toMatchObject([{ actor_id: creator.id }]);
    const again = await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: basic(creator) });
    expect(again.status).toBe(404);
    expect(await eventsOf({ target_id: key.id, type: 'key.revoked' })).toHaveLength(1);
  });
});

describe('who sees what', () => {
  it('GET /v2/apps/{appId}/events needs events:read, shows only that app, newest first, page by page', async () => {
    const owner = await server.createOwner({ appNames: ['Paged', 'Other'] });
    const [app, other] = owner.apps as [typeof owner.apps[0], typeof owner.apps[0]];
    const reader = await appKey(server.db, app, { displayName: 'Reader', permissions: ['events:read'] });
    const outsider = await appKey(server.db, app, { displayName: 'No events', permissions: ['app:read'] });
    for (let index = 0; index < 3; index += 1) await appKey(server.db, app, { displayName: `k${index}` }).then((key) => call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: basic(reader) }));
    await call(server.url, 'POST', `/v2/apps/${other.id}/keys`, { auth: basic(await appKey(server.db, other, { permissions: ['keys:manage'] })), body: { displayName: 'elsewhere' } });

    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}/events`, { auth: basic(outsider) }));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${other.id}/events`, { auth: basic(reader) }));

    const manager = await appKey(server.db, app, { displayName: 'Manager', permissions: ['events:read', 'keys:manage'] });
    for (const name of ['one', 'two', 'three']) {
      expect((await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: basic(manager), body: { displayName: name } })).status).toBe(201);
    }
    const first = await call(server.url, 'GET', `/v2/apps/${app.id}/events?page[size]=2&filter[type]=key.created`, { auth: basic(manager) });
    expect(first.status).toBe(200);
    const page = (await first.json()) as { events: { detail: { keyName: string }; appId: string }[]; meta: { hasMore: boolean }; links: { next?: string } };
    expect(page.events.map((event) => event.detail.keyName)).toEqual(['three', 'two']);
    expect(page.meta.hasMore).toBe(true);
    const next = await call(server.url, 'GET', new URL(page.links.next!).pathname + new URL(page.links.next!).search, { auth: basic(manager) });
    const rest = (await next.json()) as { events: { detail: { keyName: string }; appId: string }[] };
    expect(rest.events.map((event) => event.detail.keyName).slice(0, 1)).toEqual(['one']);
    expect([...page.events, ...rest.events].every((event) => event.appId === app.id)).toBe(true);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}/events?filter[type]=made.up`, { auth: basic(manager) })).status).toBe(400);
  });

  it("an owner's activity page shows only their account; the portal shows a partner only its own integration", async () => {
    const alice = await server.createOwner({ appNames: ['Alice App'] });
    const bob = await server.createOwner({ appNames: ['Bob App'] });
    await appKey(server.db, bob.apps[0]!, { displayName: 'Bob secret project' }).then((key) =>
      call(server.url, 'DELETE', `/v2/apps/${bob.apps[0]!.id}/keys/${key.id}`, { auth: basic(key) }),
    );
    const { browser } = await logInToDashboard(server.url, { email: alice.account.email, password: alice.password });
    const mine = text(await (await browser.get('/dashboard/activity')).text());
    expect(mine).toContain('Signed in');
    expect(mine).not.toContain('Bob secret project');
    expect((await browser.get(`/dashboard/apps/${bob.apps[0]!.id}/activity`)).status).toBe(404);

    const partner = await server.createPartner({ accountId: alice.account.id, approved: false });
    const other = await server.createPartner({ accountId: bob.account.id, approved: false });
    const portal = text(await (await browser.get(`/partners/${partner.partner.id}/activity`)).text());
    expect(portal).toContain('was registered by you');
    expect(portal).not.toContain('Signed in');
    expect((await browser.get(`/partners/${other.partner.id}/activity`)).status).toBe(404);
  });

  it('the NDJSON export answers only its token and lists events after a cursor', async () => {
    expect((await fetch(`${server.url}/ops/events`)).status).toBe(401);
    expect((await fetch(`${server.url}/ops/events`, { headers: { authorization: 'Bearer wrong-token-wrong-token-wrong-token' } })).status).toBe(401);
    const all = await fetch(`${server.url}/ops/events?limit=5`, { headers: { authorization: `Bearer ${exportToken}` } });
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await all.text()).trim().split('\n').map((line) => JSON.parse(line) as { id: string });
    expect(lines.length).toBeGreaterThan(0);
    const after = await fetch(`${server.url}/ops/events?after=${lines[0]!.id}&limit=1`, { headers: { authorization: `Bearer ${exportToken}` } });
    const [next] = (await after.text()).trim().split('\n').map((line) => JSON.parse(line) as { id: string });
    expect(Number(next!.id)).toBeGreaterThan(Number(lines[0]!.id));
  });
});

describe('what the trail keeps', () => {
  it('no event holds a secret, token, code or password that the run handed out', async () => {
    const owner = await server.createOwner();
    const partner = await server.createPartner();
    const token = await oauthToken(server.url, { id: partner.partner.id, secret: partner.clientSecret }, { email: owner.account.email, password: owner.password }, owner.apps[0]!.id);
    const key = await appKey(server.db, owner.apps[0]!, { permissions: ['keys:manage'] });
    const created = await call(server.url, 'POST', `/v2/apps/${owner.apps[0]!.id}/keys`, { auth: basic(key), body: { displayName: 'secretive' } });
    const { key: minted } = (await created.json()) as { key: { secret: string } };
    const stored = JSON.stringify(await server.db('events').select('*'));
    for (const secret of [partner.clientSecret, token.access_token, token.refresh_token, key.secret, minted.secret, owner.password]) {
      expect(stored).not.toContain(secret);
    }
  });

  it('retention removes events older than the cutoff and keeps younger ones', async () => {
    const before = await newestEventId();
    await server.db('events').insert([
      { type: 'owner.logged_out', actor_type: 'system', occurred_at: new Date(Date.now() - 500 * 86_400_000) },
      { type: 'owner.logged_out', actor_type: 'system', occurred_at: new Date() },
    ]);
    const report = await sweepRetention(server.db, { ...sweepOptionsFrom(server.settings), EVENT_RETENTION_DAYS: 400, batch: 1 });
    expect(report.removed.events).toBeGreaterThanOrEqual(1);
    expect(await eventsSince(before)).toHaveLength(1);
  });
});
