import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createApp } from '../../src/apps/apps.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { field, formAction, text } from '../support/browser.ts';
import { appKey, basic, box, expectJsonError, expectUnauthorized, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { call, checkedFetch } from '../support/contract.ts';
import { eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * A partner sees every installation of its integration, and only its own:
 * in the portal (with a CSV export and removal of one or all) and through
 * GET /v2/partner/installations with its own client credentials.
 */

let server: TestServer;
let receiver: NoticeReceiver;

interface Partner {
  id: string;
  secret: string;
  name: string;
  developer: { email: string; password: string };
}

interface Installed {
  appId: string;
  appName: string;
  owner: { email: string; password: string };
  tokens: { access_token: string; refresh_token: string };
}

let partnerA: Partner;
let partnerB: Partner;
let installedA: Installed[];
let installedB: Installed;

const clientBasic = (client: { id: string; secret: string }) => basicAuth(client.id, client.secret);

async function registerPartner(name: string, removeUrl?: string): Promise<Partner> {
  const developer = await server.createOwner({ appNames: [] });
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name,
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read', 'message:send'],
    accountId: developer.account.id,
    ...(removeUrl ? { removeUrl } : {}),
  });
  return { id: created.partner.id, secret: created.clientSecret, name, developer: { email: developer.account.email, password: developer.password } };
}

async function install(partner: Partner, appName: string): Promise<Installed> {
  const owner = await server.createOwner({ appNames: [] });
  const app = await createApp(server.db, owner.account.id, { displayName: appName });
  const credentials = { email: owner.account.email, password: owner.password };
  const tokens = await oauthToken(server.url, partner, credentials, app.id);
  return { appId: app.id, appName, owner: credentials, tokens };
}

beforeAll(async () => {
  server = await startTestServer({ NOTICE_POLL_INTERVAL_MS: '100', ...keyEncryptionEnv });
  receiver = await startNoticeReceiver();
  partnerA = await registerPartner('HelpDesk Pro', `${receiver.url}/notices`);
  partnerB = await registerPartner('Other Partner');
  installedA = [await install(partnerA, 'Acme Support'), await install(partnerA, '=HYPERLINK("http://evil.example")')];
  installedB = await install(partnerB, 'Elsewhere');
});

afterAll(async () => {
  await receiver?.close();
  await server?.close();
});

describe('GET /v2/partner/installations', () => {
  it('lists the partner’s own installations with what the owners approved, its last use and last refresh', async () => {
    const refreshed = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: clientBasic(partnerA), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: installedA[0]!.tokens.refresh_token }),
    });
    expect(refreshed.status).toBe(200);
    await eventually(async () => (await server.db('authorizations').where({ app_id: installedA[0]!.appId }).first())?.last_refreshed_at, 5000, 'the refresh noted');

    const response = await call(server.url, 'GET', '/v2/partner/installations', { auth: clientBasic(partnerA) });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { installations: Record<string, unknown>[]; meta: { hasMore: boolean } };
    expect(body.meta.hasMore).toBe(false);
    expect(body.installations.map((row) => (row.app as { id: string }).id).sort()).toEqual(installedA.map((row) => row.appId).sort());
    const first = body.installations.find((row) => (row.app as { id: string }).id === installedA[0]!.appId)!;
    expect(first).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      app: { id: installedA[0]!.appId, displayName: 'Acme Support' },
      permissions: ['app:read', 'message:send'],
      approvedAt: expect.any(String),
      updatedAt: null,
      lastUsedAt: null,
      lastRefreshAt: expect.any(String),
      state: 'active',
    });
    const other = body.installations.find((row) => row !== first)!;
    expect(other.lastRefreshAt).toBeNull();
  });

  it('pages like every /v2 list', async () => {
    const firstPage = await call(server.url, 'GET', '/v2/partner/installations?page[size]=1', { auth: clientBasic(partnerA) });
    const one = (await firstPage.json()) as { installations: { id: string }[]; meta: { hasMore: boolean; afterCursor: string }; links: { next?: string; prev?: string } };
    expect(one.installations).toHaveLength(1);
    expect(one.meta.hasMore).toBe(true);
    expect(one.links.next).toBe(`${server.url}/v2/partner/installations?page%5Bafter%5D=${one.meta.afterCursor}&page%5Bsize%5D=1`);
    const second = await checkedFetch(one.links.next!, { headers: { authorization: clientBasic(partnerA), accept: 'application/json' } });
    const two = (await second.json()) as typeof one;
    expect(two.installations).toHaveLength(1);
    expect(two.installations[0]!.id > one.installations[0]!.id).toBe(true);
    expect(two.meta.hasMore).toBe(false);
    const back = await checkedFetch(two.links.prev!, { headers: { authorization: clientBasic(partnerA), accept: 'application/json' } });
    expect(((await back.json()) as typeof one).installations.map((row) => row.id)).toEqual(one.installations.map((row) => row.id));
  });

  it('shows another partner only its own', async () => {
    const response = await call(server.url, 'GET', '/v2/partner/installations', { auth: clientBasic(partnerB) });
    const body = (await response.json()) as { installations: { app: { id: string } }[] };
    expect(body.installations.map((row) => row.app.id)).toEqual([installedB.appId]);
  });

  it('refuses anything but the partner’s own client credentials', async () => {
    const resourceServer = await server.createResourceServer();
    const app = await server.createOwner();
    const refused = [
      undefined,
      clientBasic({ id: partnerA.id, secret: 'wrong' }),
      clientBasic({ id: partnerB.id, secret: partnerA.secret }),
      clientBasic({ id: resourceServer.partner.id, secret: resourceServer.clientSecret }),
      basic(await appKey(server.db, app.apps[0]!)),
      `Bearer ${installedA[0]!.tokens.access_token}`,
      'Basic !!!',
    ];
    for (const auth of refused) {
      const response = await call(server.url, 'GET', '/v2/partner/installations', auth ? { auth } : {});
      expect(response.headers.get('www-authenticate'), String(auth)).toBe('Basic realm="appgrant"');
      await expectUnauthorized(response, String(auth));
    }
  });

  it('answers bad paging with field errors', async () => {
    for (const query of ['page[size]=0', 'page[size]=101', 'page[after]=nope', `page[after]=${'a'.repeat(24)}&page[before]=${'b'.repeat(24)}`]) {
      const errors = await expectJsonError(await call(server.url, 'GET', `/v2/partner/installations?${query}`, { auth: clientBasic(partnerA) }), 400);
      expect(errors.length, query).toBeGreaterThan(0);
    }
  });

  it('says when the platform has suspended the integration', async () => {
    const operator = (argv: string[]) => runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);
    await operator(['partner', 'suspend', partnerB.id]);
    const body = (await (await call(server.url, 'GET', '/v2/partner/installations', { auth: clientBasic(partnerB) })).json()) as { installations: { state: string }[] };
    expect(body.installations.map((row) => row.state)).toEqual(['suspended']);
    await operator(['partner', 'resume', partnerB.id]);
  });
});

describe('the portal', () => {
  async function portal(partner: Partner) {
    const { browser } = await logInToDashboard(server.url, partner.developer);
    const page = async () => (await browser.get(`/partners/${partner.id}/installations`)).text();
    const post = async (path: string, fields: Record<string, string> = {}) => browser.post(path, { _csrf: field(await page(), '_csrf') ?? '', ...fields });
    return { browser, page, post };
  }

  it('lists the installations with app, permissions, dates and state, and exports them as CSV', async () => {
    const { browser, page } = await portal(partnerA);
    const text = await page();
    for (const installed of installedA) expect(text).toContain(installed.appId);
    expect(text).toContain('Acme Support');
    expect(text).not.toContain(installedB.appId);
    const csv = await browser.get(`/partners/${partnerA.id}/installations.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="installations-${partnerA.id}.csv"`);
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('installation_id,app_id,app_name,permissions,approved_at,last_used_at,last_refresh_at,state');
    expect(lines).toHaveLength(3);
    expect(lines.find((line) => line.includes(installedA[1]!.appId))).toContain(`,"'=HYPERLINK(""http://evil.example"")",app:read message:send,`);
    expect(lines.join('\n')).not.toContain(installedB.appId);
  });

  it('never shows or removes another partner’s installation', async () => {
    const { browser, post } = await portal(partnerA);
    expect((await browser.get(`/partners/${partnerB.id}/installations`)).status).toBe(404);
    expect((await browser.get(`/partners/${partnerB.id}/installations.csv`)).status).toBe(404);
    const theirs = await server.db('authorizations').where({ partner_id: partnerB.id }).whereNull('revoked_at').first();
    expect((await browser.get(`/partners/${partnerA.id}/installations/${theirs.id}/remove`)).status).toBe(404);
    expect((await post(`/partners/${partnerA.id}/installations/${theirs.id}/remove`)).status).toBe(404);
    expect((await post(`/partners/${partnerA.id}/installations/${'0'.repeat(24)}/remove`)).status).toBe(404);
    expect(await server.db('authorizations').where({ id: theirs.id }).first()).toMatchObject({ revoked_at: null });
    expect((await call(server.url, 'GET', `/v2/apps/${installedB.appId}`, { auth: `Bearer ${installedB.tokens.access_token}` })).status).toBe(200);
  });

  it('removes one installation: its tokens die and the partner gets the removal notice', async () => {
    const { post, page } = await portal(partnerA);
    const target = installedA[0]!;
    const authorization = await server.db('authorizations').where({ app_id: target.appId }).whereNull('revoked_at').first();
    const { browser } = await portal(partnerA);
    const confirm = await (await browser.get(`/partners/${partnerA.id}/installations/${authorization.id}/remove`)).text();
    expect(confirm).toContain('Remove HelpDesk Pro from Acme Support?');
    expect(formAction(confirm, `/partners/${partnerA.id}/installations/${authorization.id}/remove`)).toBeTruthy();
    const removed = await post(`/partners/${partnerA.id}/installations/${authorization.id}/remove`);
    expect(removed.status).toBe(303);
    expect(removed.headers.get('location')).toBe(`/partners/${partnerA.id}/installations`);
    // The session that removed it reads the result, naming what was removed.
    expect(text(await page())).toContain('HelpDesk Pro was removed from Acme Support.');
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${target.appId}`, { auth: `Bearer ${target.tokens.access_token}` }));
    const event = await server.db('events').where({ type: 'authorization.removed', target_id: authorization.id }).first();
    expect(event).toMatchObject({ cause: 'partner', actor_type: 'partner', actor_id: partnerA.id });
    await eventually(async () => receiver.received.some((notice) => notice.body.includes('"integration.removed"') && notice.body.includes(target.appId)), 10_000, 'the removal notice');
  });

  it('removes every installation once the name is typed, and nothing before', async () => {
    const { post, page } = await portal(partnerA);
    const wrong = await post(`/partners/${partnerA.id}/installations/remove-all`, { confirm: 'helpdesk' });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Nothing was removed');
    expect(await server.db('authorizations').where({ partner_id: partnerA.id }).whereNull('revoked_at')).toHaveLength(1);
    const all = await post(`/partners/${partnerA.id}/installations/remove-all`, { confirm: partnerA.name });
    expect(all.status).toBe(303);
    expect(text(await page())).toContain(`${partnerA.name} was removed from all 1 app it was installed on.`);
    expect(await server.db('authorizations').where({ partner_id: partnerA.id }).whereNull('revoked_at')).toHaveLength(0);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${installedA[1]!.appId}`, { auth: `Bearer ${installedA[1]!.tokens.access_token}` }));
    const list = await call(server.url, 'GET', '/v2/partner/installations', { auth: clientBasic(partnerA) });
    expect(((await list.json()) as { installations: unknown[] }).installations).toEqual([]);
    expect(await server.db('authorizations').where({ partner_id: partnerB.id }).whereNull('revoked_at')).toHaveLength(1);
  });
});
