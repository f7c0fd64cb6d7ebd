import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/apps/apps.ts';
import {
  accountKey,
  appKey,
  basic,
  bearerJwt,
  expectJsonError,
  expectUnauthorized,
  keyEncryptionEnv,
  levelPermissions,
  oauthToken,
} from '../support/credentials.ts';
import { call, checkedFetch, expectUndescribed } from '../support/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The /v2 JSON contract (docs/contract.md, "The v2 API": the Sunshine Conversations v2 shapes the
 * public client's models read): apps and their keys, pagination, validation,
 * and one JSON error shape for every failure an API client can meet.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let account: string;

beforeAll(async () => {
  server = await startTestServer(keyEncryptionEnv);
  owner = await server.createOwner({ appNames: ['First'] });
  account = basic(await accountKey(server.db, owner.account.id));
});

afterAll(async () => {
  await server?.close();
});

interface ApiApp {
  id: string;
  displayName: string;
  settings: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
}

interface ApiKey {
  id: string;
  displayName: string;
  secret?: string;
}

interface AppList {
  apps: ApiApp[];
  meta: { hasMore: boolean; afterCursor?: string; beforeCursor?: string };
  links: { next?: string; prev?: string };
}

const defaultSettings = {
  conversationRetentionSeconds: 0,
  maskCreditCardNumbers: true,
  useAnimalNames: false,
  echoPostback: false,
  ignoreAutoConversationStart: false,
  multiConvoEnabled: false,
  appLocalizationEnabled: false,
};

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return JSON.parse(text) as T;
}

async function newApp(name = 'Shape app'): Promise<App> {
  return createApp(server.db, owner.account.id, { displayName: name });
}

async function createAppThroughApi(body: unknown, auth = account): Promise<ApiApp> {
  return (await json<{ app: ApiApp }>(await call(server.url, 'POST', '/v2/apps', { auth, body }), 201)).app;
}

async function createKeyThroughApi(appId: string, body: unknown = { displayName: 'Key' }, auth = account): Promise<ApiKey> {
  return (await json<{ key: ApiKey }>(await call(server.url, 'POST', `/v2/apps/${appId}/keys`, { auth, body }), 201)).key;
}

describe('listing apps', () => {
  it('answers {apps, meta:{hasMore, afterCursor, beforeCursor}, links} with each app in the v2 shape', async () => {
    const three = await server.createOwner({ appNames: ['Alpha', 'Beta', 'Gamma'] });
    const auth = basic(await accountKey(server.db, three.account.id));
    const body = await json<AppList>(await call(server.url, 'GET', '/v2/apps', { auth }), 200);
    const ids = three.apps.map((app) => app.id).sort();
    expect(Object.keys(body).sort()).toEqual(['apps', 'links', 'meta']);
    expect(body.apps.map((app) => app.id)).toEqual(ids);
    expect(body.meta).toEqual({ hasMore: false, afterCursor: ids[2], beforeCursor: ids[0] });
    expect(body.links.next).toBeUndefined();
    expect(body.links.prev).toBeUndefined();
    for (const app of body.apps) {
      expect(app).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), displayName: expect.any(String), settings: defaultSettings, metadata: null });
    }
    expect(body.apps.map((app) => app.displayName).sort()).toEqual(['Alpha', 'Beta', 'Gamma']);
  });

  it('lists only the caller’s account', async () => {
    const other = await server.createOwner({ appNames: ['Not yours'] });
    const body = await json<AppList>(await call(server.url, 'GET', '/v2/apps?page[size]=100', { auth: account }), 200);
    expect(body.apps.map((app) => app.id)).not.toContain(other.apps[0]!.id);
    expect(body.apps.map((app) => app.id)).toContain(owner.apps[0]!.id);
  });

  it('an account with no apps gets an empty page', async () => {
    const empty = await server.createOwner({ appNames: [] });
    const body = await json<AppList>(await call(server.url, 'GET', '/v2/apps', { auth: basic(await accountKey(server.db, empty.account.id)) }), 200);
    expect(body.apps).toEqual([]);
    expect(body.meta.hasMore).toBe(false);
    expect(body.links).toEqual({});
  });

  it('walks three apps one page at a time through links.next, then back through links.prev', async () => {
    const three = await server.createOwner({ appNames: ['One', 'Two', 'Three'] });
    const auth = basic(await accountKey(server.db, three.account.id));
    const ids = three.apps.map((app) => app.id).sort();

    const forward: AppList[] = [];
    let next: string | undefined = `${server.url}/v2/apps?page[size]=1`;
    while (next && forward.length < 10) {
      const page: AppList = await json<AppList>(await checkedFetch(next, { headers: { authorization: auth } }), 200);
      forward.push(page);
      if (page.links.next) expect(page.links.next.startsWith(`${server.issuer}/v2/apps?`)).toBe(true);
      next = page.links.next;
    }
    expect(forward.map((page) => page.apps.map((app) => app.id))).toEqual([[ids[0]], [ids[1]], [ids[2]]]);
    expect(forward.map((page) => page.meta.hasMore)).toEqual([true, true, false]);
    expect(forward.map((page) => [page.meta.beforeCursor, page.meta.afterCursor])).toEqual(ids.map((id) => [id, id]));
    expect(forward[0]!.links.prev).toBeUndefined();
    expect(forward[2]!.links.next).toBeUndefined();

    const backward: string[] = [];
    let prev = forward[2]!.links.prev;
    expect(prev).toBeDefined();
    while (prev && backward.length < 10) {
      const page: AppList = await json<AppList>(await checkedFetch(prev, { headers: { authorization: auth } }), 200);
      backward.push(...page.apps.map((app) => app.id));
      prev = page.links.prev;
    }
    expect(backward).toEqual([ids[1], ids[0]]);
  });

  it('accepts percent-encoded brackets, as the public client sends them', async () => {
    const three = await server.createOwner({ appNames: ['A', 'B', 'C'] });
    const auth = basic(await accountKey(server.db, three.account.id));
    const ids = three.apps.map((app) => app.id).sort();
    const page = await json<AppList>(await call(server.url, 'GET', `/v2/apps?page%5Bafter%5D=${ids[0]}&page%5Bsize%5D=1`, { auth }), 200);
    expect(page.apps.map((app) => app.id)).toEqual([ids[1]]);
    expect(page.meta.hasMore).toBe(true);
  });

  it.each([
    ['page[after] and page[before] together', 'page[after]=0123456789abcdef01234567&page[before]=0123456789abcdef01234568'],
    ['page[size]=0', 'page[size]=0'],
    ['page[size]=101', 'page[size]=101'],
    ['page[size]=abc', 'page[size]=abc'],
    ['a page[after] that is not an app id', 'page[after]=nope'],
  ])('%s → 400 {errors:[bad_request]}', async (_name, query) => {
    const errors = await expectJsonError(await call(server.url, 'GET', `/v2/apps?${query}`, { auth: account }), 400, 'bad_request');
    for (const error of errors) expect(error.code).toBe('bad_request');
  });
});

describe('creating, reading and changing apps', () => {
  it('POST /v2/apps → 201 {app:{id, displayName, settings, metadata}}, readable with GET', async () => {
    const app = await createAppThroughApi({ displayName: 'Created' });
    expect(app).toEqual({ id: expect.stringMatching(/^[0-9a-f]{24}$/), displayName: 'Created', settings: defaultSettings, metadata: null });
    const read = await json<{ app: ApiApp }>(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: account }), 200);
    expect(read).toEqual({ app });
  });

  it('POST /v2/apps keeps the settings and metadata it is given', async () => {
    const app = await createAppThroughApi({
      displayName: 'Configured',
      settings: { useAnimalNames: true, conversationRetentionSeconds: 3600 },
      metadata: { plan: 'pro', seats: 5, beta: true },
    });
    expect(app.settings).toEqual({ ...defaultSettings, useAnimalNames: true, conversationRetentionSeconds: 3600 });
    expect(app.metadata).toEqual({ plan: 'pro', seats: 5, beta: true });
  });

  it('PATCH merges settings and leaves the rest alone', async () => {
    const app = await createAppThroughApi({ displayName: 'Mergeable', settings: { useAnimalNames: true }, metadata: { a: '1' } });
    const patched = await json<{ app: ApiApp }>(
      await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: account, body: { settings: { echoPostback: true } } }),
      200,
    );
    expect(patched.app).toEqual({ ...app, settings: { ...defaultSettings, useAnimalNames: true, echoPostback: true } });
    const renamed = await json<{ app: ApiApp }>(await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: account, body: { displayName: 'Renamed' } }), 200);
    expect(renamed.app).toEqual({ ...patched.app, displayName: 'Renamed' });
    const cleared = await json<{ app: ApiApp }>(await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: account, body: { metadata: null } }), 200);
    expect(cleared.app.metadata).toBeNull();
    expect((await json<{ app: ApiApp }>(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: account }), 200)).app).toEqual(cleared.app);
  });

  it('an app key may PATCH its own app', async () => {
    const app = await newApp();
    const patched = await json<{ app: ApiApp }>(
      await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: basic(await appKey(server.db, app)), body: { settings: { multiConvoEnabled: true } } }),
      200,
    );
    expect(patched.app.settings.multiConvoEnabled).toBe(true);
  });

  it.each([
    ['POST', 'no displayName', {}],
    ['POST', 'an empty displayName', { displayName: '   ' }],
    ['POST', 'a 101-character displayName', { displayName: 'x'.repeat(101) }],
    ['POST', 'a displayName that is not a string', { displayName: 42 }],
    ['POST', 'an unknown settings key', { displayName: 'x', settings: { noSuchSetting: true } }],
    ['POST', 'a setting of the wrong type', { displayName: 'x', settings: { useAnimalNames: 'yes' } }],
    ['POST', 'a negative retention', { displayName: 'x', settings: { conversationRetentionSeconds: -1 } }],
    ['POST', 'an unknown top-level field', { displayName: 'x', owner: 'me' }],
    ['POST', 'nested metadata', { displayName: 'x', metadata: { nested: { a: 1 } } }],
    ['POST', 'metadata over 4 KB', { displayName: 'x', metadata: { blob: 'x'.repeat(4089) } }],
    ['PATCH', 'an unknown settings key', { settings: { noSuchSetting: true } }],
    ['PATCH', 'metadata over 4 KB', { metadata: { blob: 'x'.repeat(5000) } }],
    ['PATCH', 'an empty displayName', { displayName: '' }],
    ['PATCH', 'an array body', [1, 2]],
  ])('%s with %s → 400 {errors:[…]}', async (method, _name, body) => {
    const path = method === 'POST' ? '/v2/apps' : `/v2/apps/${(await newApp()).id}`;
    await expectJsonError(await call(server.url, method, path, { auth: account, body }), 400, 'bad_request');
  });

  it('metadata of exactly 4096 bytes is accepted; 4097 is not, with the platform’s words', async () => {
    const exact = { blob: 'x'.repeat(4096 - '{"blob":""}'.length) };
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(4096);
    const app = await createAppThroughApi({ displayName: 'Full', metadata: exact });
    expect(app.metadata).toEqual(exact);
    const over = { blob: `${exact.blob}x` };
    const errors = await expectJsonError(await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: account, body: { metadata: over } }), 400, 'bad_request');
    expect(errors.map((error) => error.title).join(' ')).toContain('App metadata is limited to 4096 bytes in size.');
    // Multi-byte characters count as bytes, not characters.
    const multibyte = { blob: 'é'.repeat(2100) };
    await expectJsonError(await call(server.url, 'POST', '/v2/apps', { auth: account, body: { displayName: 'Accents', metadata: multibyte } }), 400);
  });

  it('a failed PATCH changes nothing', async () => {
    const app = await createAppThroughApi({ displayName: 'Stable', settings: { useAnimalNames: true } });
    await expectJsonError(
      await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: account, body: { displayName: 'Changed', settings: { bogus: 1 } } }),
      400,
    );
    expect((await json<{ app: ApiApp }>(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: account }), 200)).app).toEqual(app);
  });

  it('an unknown app id → 404 app_not_found, whatever its shape', async () => {
    for (const id of ['0123456789abcdef01234567', 'not-an-id', 'x'.repeat(300)]) {
      expect(await (await call(server.url, 'GET', `/v2/apps/${id}`, { auth: account })).json()).toEqual({
        errors: [{ code: 'app_not_found', title: 'App not found' }],
      });
    }
  });
});

describe('deleting an app', () => {
  it('DELETE → 200 {}; the app is gone, its keys stop working (401) and so do OAuth tokens for it', async () => {
    const app = await newApp('Doomed');
    const key = await appKey(server.db, app);
    const keyJwt = await bearerJwt(key, { scope: 'app' });
    const userJwt = await bearerJwt(key, { scope: 'appUser', userId: 'u' });
    const partner = await server.createPartner({ permissions: ['app:read'] });
    const token = await oauthToken(server.url, { id: partner.partner.id, secret: partner.clientSecret }, { email: owner.account.email, password: owner.password }, app.id);
    const bearer = `Bearer ${token.access_token}`;
    for (const auth of [basic(key), keyJwt, bearer]) expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);

    const deleted = await call(server.url, 'DELETE', `/v2/apps/${app.id}`, { auth: account });
    expect(deleted.status).toBe(200);
    expect(await deleted.text()).toBe('{}');

    await expectJsonError(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: account }), 404, 'app_not_found');
    await expectJsonError(await call(server.url, 'DELETE', `/v2/apps/${app.id}`, { auth: account }), 404, 'app_not_found');
    for (const auth of [basic(key), keyJwt, userJwt, bearer]) {
      await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth }), auth.slice(0, 12));
      await expectUnauthorized(await call(server.url, 'GET', '/v2/credentials/current', { auth }), auth.slice(0, 12));
    }
    const list = await json<AppList>(await call(server.url, 'GET', '/v2/apps?page[size]=100', { auth: account }), 200);
    expect(list.apps.map((candidate) => candidate.id)).not.toContain(app.id);
  });

  it('an app key may delete its own app, and is refused right after', async () => {
    const app = await newApp('Self-destruct');
    const key = await appKey(server.db, app);
    expect((await call(server.url, 'DELETE', `/v2/apps/${app.id}`, { auth: basic(key) })).status).toBe(200);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
  });
});

describe('app keys', () => {
  it('POST → 201 {key:{id, displayName, secret}}; the secret works; list and get never show it', async () => {
    const app = await newApp();
    const created = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: account, body: { displayName: 'Integration key' } });
    const { key } = await json<{ key: ApiKey & Record<string, unknown> }>(created, 201);
    expect(key).toMatchObject({ id: expect.stringMatching(/^app_[0-9a-f]{24}$/), displayName: 'Integration key', secret: expect.any(String) });
    expect(key.secret!.length).toBeGreaterThanOrEqual(32);

    const works = await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic({ id: key.id, secret: key.secret! }) });
    expect(works.status).toBe(200);

    const listText = await (await call(server.url, 'GET', `/v2/apps/${app.id}/keys`, { auth: account })).text();
    const list = JSON.parse(listText) as { keys: (ApiKey & Record<string, unknown>)[] };
    expect(Object.keys(list)).toEqual(['keys']);
    expect(list.keys.map((listed) => listed.id)).toEqual([key.id]);
    expect(list.keys[0]).toMatchObject({ id: key.id, displayName: 'Integration key' });
    expect(list.keys[0]).not.toHaveProperty('secret');
    expect(listText).not.toContain(key.secret!);

    const getText = await (await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${key.id}`, { auth: account })).text();
    const got = JSON.parse(getText) as { key: ApiKey };
    expect(got.key).toMatchObject({ id: key.id, displayName: 'Integration key' });
    expect(got.key).not.toHaveProperty('secret');
    expect(getText).not.toContain(key.secret!);
  });

  it('lists keys in creation order and stops listing a deleted one', async () => {
    const app = await newApp();
    const first = await createKeyThroughApi(app.id, { displayName: 'First' });
    const second = await createKeyThroughApi(app.id, { displayName: 'Second' });
    const listed = async () => (await json<{ keys: ApiKey[] }>(await call(server.url, 'GET', `/v2/apps/${app.id}/keys`, { auth: account }), 200)).keys;
    expect((await listed()).map((key) => key.displayName)).toEqual(['First', 'Second']);
    const deleted = await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${first.id}`, { auth: account });
    expect(await json(deleted, 200)).toEqual({});
    expect((await listed()).map((key) => key.id)).toEqual([second.id]);
    await expectJsonError(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${first.id}`, { auth: account }), 404, 'not_found');
  });

  it('keeps permissions given at creation and enforces them', async () => {
    const app = await newApp();
    const key = await createKeyThroughApi(app.id, { displayName: 'Reader', permissions: ['app:read'] });
    const got = await json<{ key: { permissions: string[] } }>(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${key.id}`, { auth: account }), 200);
    expect(got.key.permissions).toEqual(['app:read']);
    const auth = basic({ id: key.id, secret: key.secret! });
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);
    expect((await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth, body: { displayName: 'no' } })).status).toBe(403);
  });

  it('GET and DELETE of an unknown key → 404 {errors:[{code:"not_found"}]}', async () => {
    const app = await newApp();
    const unknown = 'app_0123456789abcdef01234567';
    expect(await json(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${unknown}`, { auth: account }), 404)).toEqual({
      errors: [{ code: 'not_found', title: expect.any(String) }],
    });
    await expectJsonError(await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${unknown}`, { auth: account }), 404, 'not_found');
  });

  it('a key of another app is not reachable through this app’s path (GET and DELETE → 404), and keeps working', async () => {
    const [app, other] = [await newApp(), await newApp()];
    const otherKey = await appKey(server.db, other);
    await expectJsonError(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${otherKey.id}`, { auth: account }), 404, 'not_found');
    await expectJsonError(await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${otherKey.id}`, { auth: account }), 404, 'not_found');
    // Through its own app's key, too: an app key cannot revoke a sibling's key by naming it under its own app.
    await expectJsonError(
      await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${otherKey.id}`, { auth: basic(await appKey(server.db, app)) }),
      404,
      'not_found',
    );
    expect((await call(server.url, 'GET', `/v2/apps/${other.id}`, { auth: basic(otherKey) })).status).toBe(200);
  });

  it('an account key is not reachable as an app key', async () => {
    const app = await newApp();
    const accountLevel = await accountKey(server.db, owner.account.id);
    await expectJsonError(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${accountLevel.id}`, { auth: account }), 404, 'not_found');
    await expectJsonError(await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${accountLevel.id}`, { auth: account }), 404, 'not_found');
    expect((await call(server.url, 'GET', '/v2/apps', { auth: basic(accountLevel) })).status).toBe(200);
  });

  it.each([
    ['no displayName', {}],
    ['an empty displayName', { displayName: ' ' }],
    ['a 101-character displayName', { displayName: 'k'.repeat(101) }],
    ['an unknown permission', { displayName: 'k', permissions: ['no:such'] }],
    ['permissions that are not a list', { displayName: 'k', permissions: 'app:read' }],
    ['an expiresAt that is not a date', { displayName: 'k', expiresAt: 'soon' }],
    ['an allowed IP that is not one', { displayName: 'k', allowedIps: ['example.com'] }],
  ])('POST /v2/apps/{id}/keys with %s → 400 {errors:[…]}', async (_name, body) => {
    await expectJsonError(await call(server.url, 'POST', `/v2/apps/${(await newApp()).id}/keys`, { auth: account, body }), 400, 'bad_request');
  });

  it('records when a key was last used', async () => {
    const app = await newApp();
    const key = await createKeyThroughApi(app.id);
    const lastUsed = async () =>
      (await json<{ key: { lastUsedAt: string | null } }>(await call(server.url, 'GET', `/v2/apps/${app.id}/keys/${key.id}`, { auth: account }), 200)).key.lastUsedAt;
    expect(await lastUsed()).toBeNull();
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic({ id: key.id, secret: key.secret! }) })).status).toBe(200);
    await expect.poll(lastUsed, { timeout: 5000 }).not.toBeNull();
  });

  it('a key created with no permissions acts with every app-level permission', async () => {
    const app = await newApp();
    const key = await createKeyThroughApi(app.id);
    const body = await json<{ credential: { permissions: string[] } }>(
      await call(server.url, 'GET', '/v2/credentials/current', { auth: basic({ id: key.id, secret: key.secret! }) }),
      200,
    );
    expect(body.credential.permissions.sort()).toEqual([...levelPermissions.app].sort());
  });
});

describe('never HTML or a stack trace for an API client', () => {
  it('malformed JSON on POST /v2/apps → 400 JSON (with and without credentials)', async () => {
    for (const auth of [account, undefined]) {
      const response = await checkedFetch(`${server.url}/v2/apps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: '{"displayName": "broken",',
      });
      await expectJsonError(response, 400);
    }
  });

  it('malformed JSON on PATCH and on POST keys → 400 JSON', async () => {
    const app = await newApp();
    for (const [method, path] of [['PATCH', `/v2/apps/${app.id}`], ['POST', `/v2/apps/${app.id}/keys`]] as const) {
      const response = await checkedFetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json', authorization: account }, body: '{nope' });
      await expectJsonError(response, 400);
    }
  });

  it('a body of another type on POST /v2/apps → 400 JSON', async () => {
    const response = await checkedFetch(`${server.url}/v2/apps`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: account }, body: 'displayName=x' });
    await expectJsonError(response, 400);
  });

  it('a body over the size limit → 413 JSON', async () => {
    const response = await checkedFetch(`${server.url}/v2/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: account },
      body: JSON.stringify({ displayName: 'big', metadata: { blob: 'x'.repeat(300 * 1024) } }),
    });
    await expectJsonError(response, 413);
  });

  it.each([
    ['/v2/nothing', {}],
    ['/v2', {}],
    ['/v2/', {}],
    ['/v2/apps/0123456789abcdef01234567/nothing', {}],
    ['/v2/nothing', { accept: 'text/html' }],
  ])('unknown path %s (%j) → 404 JSON', async (path, headers) => {
    expectUndescribed('GET', path);
    await expectJsonError(await fetch(`${server.url}${path}`, { headers: { authorization: account, ...headers } }), 404, 'not_found');
  });

  it.each([
    ['PUT', '/v2/apps'],
    ['DELETE', '/v2/apps'],
    ['PUT', '/v2/apps/0123456789abcdef01234567'],
    ['POST', '/v2/apps/0123456789abcdef01234567'],
    ['PATCH', '/v2/apps/0123456789abcdef01234567/keys'],
    ['POST', '/v2/apps/0123456789abcdef01234567/keys/app_0123456789abcdef01234567'],
    ['POST', '/v2/credentials/current'],
  ])('wrong method %s %s → 405 JSON', async (method, path) => {
    expectUndescribed(method, path);
    const response = await fetch(`${server.url}${path}`, { method, headers: { authorization: account, accept: 'text/html' } });
    await expectJsonError(response, 405);
  });

  it('a 405 names the allowed methods in Allow (RFC 9110 §15.5.6)', async () => {
    expectUndescribed('PUT', '/v2/apps');
    const response = await fetch(`${server.url}/v2/apps`, { method: 'PUT', headers: { authorization: account } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')?.split(/, */).sort()).toEqual(expect.arrayContaining(['GET', 'POST']));
  });

  it.each([
    ['Basic with garbage base64', 'Basic ***garbage***'],
    ['Basic with valid base64 of binary junk', basicAuth([0xff, 0xfe, 0x00, 0x3a, 0x01])],
    ['Bearer with a random string', `Bearer ${'r'.repeat(43)}`],
    ['Bearer with a JWT-looking random string', 'Bearer aaa.bbb.ccc'],
    ['Bearer with a broken JWT header', `Bearer ${Buffer.from('{not json').toString('base64url')}.e30.sig`],
  ])('%s → 401 JSON on every route', async (_name, auth) => {
    const app = owner.apps[0]!;
    for (const [method, path] of [
      ['GET', '/v2/apps'],
      ['POST', '/v2/apps'],
      ['GET', `/v2/apps/${app.id}`],
      ['DELETE', `/v2/apps/${app.id}/keys/app_0123456789abcdef01234567`],
    ]) {
      const response = await call(server.url, method!, path!, { auth, headers: { accept: 'text/html' } });
      await expectUnauthorized(response, `${method} ${path}`);
    }
  });

  it('a malformed percent-encoding in the path answers a 4xx JSON error, not a 500', async () => {
    const response = await checkedFetch(`${server.url}/v2/apps/%E0%A4%A`, { headers: { authorization: account } });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await expectJsonError(response, response.status);
  });
});
