import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { field, linkTo } from '../support/browser.ts';
import { newCliStore, runCli } from '../support/cli.ts';
import { appKey, basic, call, expectForbidden, expectUnauthorized, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { csrfToken, logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Keys and partners cannot exceed what they were given (README, "Credentials
 * on the API"): a key created by a key is never broader than its creator; a
 * key created with a partner's token ends with the partner's authorization;
 * permissions are named explicitly (or "all") in the CLI, the portal and the
 * dashboard; removing another partner from an app takes integrations:manage.
 */

type Owner = Awaited<ReturnType<TestServer['createOwner']>>;
interface KeyJson {
  id: string;
  secret: string;
  displayName: string;
  permissions?: string[];
  expiresAt?: string;
  allowedIps?: string[];
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer(keyEncryptionEnv);
});

afterAll(() => server?.close());

async function createKey(auth: string, appId: string, body: Record<string, unknown>): Promise<Response> {
  return call(server.url, 'POST', `/v2/apps/${appId}/keys`, { auth, body: { displayName: 'Minted', ...body } });
}

async function storedKey(id: string) {
  return server.db('api_keys').where({ id }).first();
}

describe('a key created by a key', () => {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
  let owner: Owner;
  let creator: string;

  beforeAll(async () => {
    owner = await server.createOwner();
    const key = await appKey(server.db, owner.apps[0]!, {
      permissions: ['app:read', 'keys:manage'],
      expiresAt: tomorrow.toISOString(),
      allowedIps: ['127.0.0.1/32', '10.0.0.0/8'],
    });
    creator = basic(key);
  });

  it('with nothing asked, gets exactly its creator permissions, expiry and ranges', async () => {
    const response = await createKey(creator, owner.apps[0]!.id, {});
    expect(response.status).toBe(201);
    const { key } = (await response.json()) as { key: KeyJson };
    const row = await storedKey(key.id);
    expect(row.permissions).toEqual(['app:read', 'keys:manage']);
    expect(new Date(row.expires_at).getTime()).toBe(tomorrow.getTime());
    expect(row.allowed_ips).toEqual(['127.0.0.1/32', '10.0.0.0/8']);
    // The minted key works where its creator does, and no further.
    const minted = basic({ id: key.id, secret: key.secret });
    expect((await call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: minted })).status).toBe(200);
    await expectForbidden(await call(server.url, 'PATCH', `/v2/apps/${owner.apps[0]!.id}`, { auth: minted, body: { displayName: 'x' } }));
  });

  it('may narrow all three', async () => {
    const sooner = new Date(Date.now() + 3600 * 1000);
    const response = await createKey(creator, owner.apps[0]!.id, {
      permissions: ['app:read'],
      expiresAt: sooner.toISOString(),
      allowedIps: ['10.1.0.0/16', '127.0.0.1'],
    });
    expect(response.status).toBe(201);
    const row = await storedKey(((await response.json()) as { key: KeyJson }).key.id);
    expect(row.permissions).toEqual(['app:read']);
    expect(new Date(row.expires_at).getTime()).toBe(sooner.getTime());
    expect(row.allowed_ips).toEqual(['10.1.0.0/16', '127.0.0.1/32']);
  });

  it.each([
    ['a permission it does not hold', { permissions: ['app:read', 'app:manage'] }],
    ['a later expiry', { expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString() }],
    ['a range wider than its own', { allowedIps: ['10.0.0.0/7'] }],
    ['a range outside its own', { allowedIps: ['192.0.2.0/24'] }],
    ['any address', { allowedIps: ['0.0.0.0/0', '::/0'] }],
  ])('is refused %s (403), and nothing is created', async (_what, body) => {
    const before = await server.db('api_keys').where({ app_id: owner.apps[0]!.id }).count({ n: '*' }).first();
    await expectForbidden(await createKey(creator, owner.apps[0]!.id, body));
    expect(await server.db('api_keys').where({ app_id: owner.apps[0]!.id }).count({ n: '*' }).first()).toEqual(before);
  });
});

describe('a key created with a partner token', () => {
  it('ends with the partner authorization when the owner removes the integration', async () => {
    const owner = await server.createOwner();
    const app = owner.apps[0]!;
    const created = await server.createPartner({ permissions: ['app:read', 'keys:manage'] });
    const partner = { id: created.partner.id, secret: created.clientSecret };
    const token = await oauthToken(server.url, partner, { email: owner.account.email, password: owner.password }, app.id);
    const response = await createKey(`Bearer ${token.access_token}`, app.id, {});
    expect(response.status).toBe(201);
    const { key } = (await response.json()) as { key: KeyJson };
    const minted = basic({ id: key.id, secret: key.secret });
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: minted })).status).toBe(200);
    expect((await storedKey(key.id)).permissions).toEqual(['app:read', 'keys:manage']);

    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    const page = await (await browser.get(`/dashboard/apps/${app.id}`)).text();
    const removed = await browser.post(linkTo(page, '/remove'), { _csrf: field(page, '_csrf') ?? '' });
    expect(removed.status).toBe(303);

    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${token.access_token}` }));
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: minted }));
    expect((await storedKey(key.id)).revoked_at).not.toBeNull();
  });

  it('ends with it when the partner gives up its access too', async () => {
    const owner = await server.createOwner();
    const app = owner.apps[0]!;
    const created = await server.createPartner({ permissions: ['app:read', 'keys:manage'] });
    const token = await oauthToken(server.url, { id: created.partner.id, secret: created.clientSecret }, { email: owner.account.email, password: owner.password }, app.id);
    const { key } = (await (await createKey(`Bearer ${token.access_token}`, app.id, {})).json()) as { key: KeyJson };
    expect((await call(server.url, 'DELETE', '/oauth/authorization', { auth: `Bearer ${token.access_token}` })).status).toBe(204);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic({ id: key.id, secret: key.secret }) }));
  });
});

describe('DELETE /oauth/authorization with app credentials', () => {
  async function connected() {
    const owner = await server.createOwner();
    const app = owner.apps[0]!;
    const created = await server.createPartner({ permissions: ['app:read'] });
    const token = await oauthToken(server.url, { id: created.partner.id, secret: created.clientSecret }, { email: owner.account.email, password: owner.password }, app.id);
    return { app, clientId: created.partner.id, token: token.access_token };
  }

  it('needs integrations:manage: an app:read key is refused and the partner stays', async () => {
    const { app, clientId, token } = await connected();
    const reader = basic(await appKey(server.db, app, { permissions: ['app:read'] }));
    await expectForbidden(await call(server.url, 'DELETE', `/oauth/authorization?client_id=${clientId}`, { auth: reader }));
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${token}` })).status).toBe(200);
  });

  it('works with integrations:manage', async () => {
    const { app, clientId, token } = await connected();
    const manager = basic(await appKey(server.db, app, { permissions: ['integrations:manage'] }));
    expect((await call(server.url, 'DELETE', `/oauth/authorization?client_id=${clientId}`, { auth: manager })).status).toBe(204);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${token}` }));
  });

  it('a partner still gives up its own access with its token, without that permission', async () => {
    const { token } = await connected();
    expect((await call(server.url, 'DELETE', '/oauth/authorization', { auth: `Bearer ${token}` })).status).toBe(204);
  });
});

describe('naming permissions on pages', () => {
  it('the dashboard refuses a key with none checked, and "All permissions" grants every one, listed', async () => {
    const owner = await server.createOwner();
    const app = owner.apps[0]!;
    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    const token = await csrfToken(browser, `/dashboard/apps/${app.id}`);
    const page = await (await browser.get(`/dashboard/apps/${app.id}`)).text();
    expect(page).toMatch(/value="all"[^>]*>\s*<label[^>]*><strong>All permissions<\/strong>/);
    const none = await browser.post(`/dashboard/apps/${app.id}/keys`, { _csrf: token, name: 'Nothing checked' });
    expect(none.status).toBe(400);
    expect(await none.text()).toMatch(/name the permissions to grant, or &quot;all&quot;/);
    expect(await server.db('api_keys').where({ app_id: app.id }).first()).toBeUndefined();
    const all = await browser.post(`/dashboard/apps/${app.id}/keys`, { _csrf: token, name: 'Everything', permissions: 'all' });
    expect(all.status).toBe(303);
    const row = await server.db('api_keys').where({ app_id: app.id }).first();
    expect(row.permissions).toContain('keys:manage');
    expect(row.permissions).toContain('web:sdk');
  });

  it('the portal refuses an integration with no permission checked', async () => {
    const owner = await server.createOwner();
    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    const token = await csrfToken(browser, '/partners');
    const fields = { _csrf: token, name: 'Least Privilege', redirectUris: 'https://lp.example/cb' };
    const none = await browser.post('/partners', fields);
    expect(none.status).toBe(400);
    expect(await none.text()).toMatch(/name the permissions to grant/);
    expect(await server.db('partners').where({ name: 'Least Privilege' }).first()).toBeUndefined();
    const some = await browser.post('/partners', { ...fields, permissions: 'app:read' });
    expect(some.status).toBe(303);
    expect((await server.db('partners').where({ name: 'Least Privilege' }).first()).permissions).toEqual(['app:read']);
  });
});

describe('naming permissions in the CLI', () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const store = await newCliStore('key-bounds');
    env = { ...store.env, ...keyEncryptionEnv };
    cleanup = store.cleanup;
    expect((await runCli(['migrate'], env)).code).toBe(0);
  }, 300_000);

  afterAll(() => cleanup?.());

  // Each command is its own process opening the database: slow on a busy machine.
  it('partner create and key create need --permission; "--permission all" is the explicit choice of every one', { timeout: 300_000 }, async () => {
    const partner = await runCli(['partner', 'create', '--name', 'P', '--redirect-uri', 'https://p.example/cb'], env);
    expect(partner.code).toBe(2);
    expect(partner.stderr).toMatch(/missing --permission/);
    const account = await runCli(['account', 'create', '--email', 'cli-keys@example.com', '--password', 'a long enough passphrase'], env);
    expect(account.code, account.stderr).toBe(0);
    const app = JSON.parse((await runCli(['app', 'create', '--account', 'cli-keys@example.com', '--name', 'A'], env)).stdout) as { id: string };
    const key = await runCli(['key', 'create', '--app', app.id], env);
    expect(key.code).toBe(2);
    expect(key.stderr).toMatch(/missing --permission/);
    const all = await runCli(['key', 'create', '--app', app.id, '--permission', 'all'], env);
    expect(all.code, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as { permissions: string[] }).permissions).toEqual(expect.arrayContaining(['app:manage', 'keys:manage', 'web:sdk']));
    const allPartner = await runCli(['partner', 'create', '--name', 'P', '--redirect-uri', 'https://p.example/cb', '--permission', 'all'], env);
    expect(allPartner.code, allPartner.stderr).toBe(0);
    expect((JSON.parse(allPartner.stdout) as { permissions: string[] }).permissions).toContain('keys:manage');
  });
});
