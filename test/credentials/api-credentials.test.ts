import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/apps/apps.ts';
import { revokeApiKey } from '../../src/credentials/api-keys.ts';
import { addressInRanges, normalizeRange } from '../../src/credentials/ip-ranges.ts';
import {
  accountKey,
  appKey,
  basic,
  bearerJwt,
  box,
  corsHeaders,
  expectForbidden,
  expectUnauthorized,
  FORBIDDEN_BODY,
  handmadeJwt,
  jwt,
  keyEncryptionEnv,
  levelPermissions,
  oauthToken,
  serviceAccountKey,
  type IssuedKey,
} from '../support/credentials.ts';
import { call, checkedFetch, expectUndescribed } from '../support/contract.ts';
import { startTestServer, testSettings, type TestServer } from '../support/server.ts';
import { createPostgresDatabase, testDatabaseKind } from '../support/database.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createAccount } from '../../src/accounts/accounts.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The API credential layer over HTTP (docs/contract.md, "Credentials" and "The v2 API"): Basic keys, HS256 JWTs
 * and OAuth tokens, at app, account and appUser level, against the /v2
 * routes; the 401 and 403 answers; key expiry, allowed IPs, revocation and
 * CORS.
 */

const webOrigin = 'https://web.example';
let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let stranger: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };

beforeAll(async () => {
  server = await startTestServer({ ...keyEncryptionEnv, CORS_ORIGINS: webOrigin });
  owner = await server.createOwner({ appNames: ['Home'] });
  stranger = await server.createOwner({ appNames: ['Elsewhere'] });
  // No explicit permissions: the partner may ask for every app-level permission.
  const created = await server.createPartner({ permissions: [...levelPermissions.app] });
  partner = { id: created.partner.id, secret: created.clientSecret };
});

afterAll(async () => {
  await server?.close();
});

const ownerLogin = () => ({ email: owner.account.email, password: owner.password });
const now = () => Math.floor(Date.now() / 1000);
const current = (auth: string, query = '', headers: Record<string, string> = {}) =>
  call(server.url, 'GET', `/v2/credentials/current${query}`, { auth, headers });

async function newApp(accountId = owner.account.id, name = 'Matrix app'): Promise<App> {
  return createApp(server.db, accountId, { displayName: name });
}

// ---------------------------------------------------------------------------
// 1. Who may call what: credential kind × route → status
// ---------------------------------------------------------------------------

type Kind = 'Basic app key' | 'Basic account key' | 'Basic service-account key' | 'JWT app' | 'JWT account' | 'JWT appUser' | 'OAuth Bearer';
const kinds: Kind[] = ['Basic app key', 'Basic account key', 'Basic service-account key', 'JWT app', 'JWT account', 'JWT appUser', 'OAuth Bearer'];

/** The credential of a kind, acting for `app` when it is app- or appUser-level; restricted to `permissions` when given. */
async function credentialFor(kind: Kind, app: App, permissions?: string[]): Promise<string> {
  const input = permissions ? { permissions } : {};
  switch (kind) {
    case 'Basic app key':
      return basic(await appKey(server.db, app, input));
    case 'Basic account key':
      return basic(await accountKey(server.db, app.account_id, input));
    case 'Basic service-account key':
      return basic(await serviceAccountKey(server.db, app.account_id, input));
    case 'JWT app':
      return bearerJwt(await appKey(server.db, app, input), { scope: 'app' });
    case 'JWT account':
      return bearerJwt(await accountKey(server.db, app.account_id, input), { scope: 'account' });
    case 'JWT appUser':
      return bearerJwt(await appKey(server.db, app, input), { scope: 'appUser', userId: 'user-1' });
    case 'OAuth Bearer':
      return `Bearer ${(await oauthToken(server.url, partner, ownerLogin(), app.id, permissions?.join(' '))).access_token}`;
  }
}

/** The apps a case acts on: its own app, another app of the same account, and an app of another account, each with one key. */
interface World {
  own: App;
  sibling: App;
  foreign: App;
  keyOf: Record<'own' | 'sibling' | 'foreign', string>;
}

async function newWorld(): Promise<World> {
  const [own, sibling, foreign] = [await newApp(), await newApp(), await newApp(stranger.account.id)];
  const keyOf = {
    own: (await appKey(server.db, own, { displayName: 'Victim' })).id,
    sibling: (await appKey(server.db, sibling, { displayName: 'Victim' })).id,
    foreign: (await appKey(server.db, foreign, { displayName: 'Victim' })).id,
  };
  return { own, sibling, foreign, keyOf };
}

interface Route {
  method: string;
  path: (world: World) => string;
  body?: unknown;
}

const appRoutes = (target: 'own' | 'sibling' | 'foreign'): Record<string, Route> => ({
  [`GET /v2/apps/{${target}}`]: { method: 'GET', path: (w) => `/v2/apps/${w[target].id}` },
  [`PATCH /v2/apps/{${target}}`]: { method: 'PATCH', path: (w) => `/v2/apps/${w[target].id}`, body: { displayName: 'Renamed' } },
  [`DELETE /v2/apps/{${target}}`]: { method: 'DELETE', path: (w) => `/v2/apps/${w[target].id}` },
  [`GET /v2/apps/{${target}}/keys`]: { method: 'GET', path: (w) => `/v2/apps/${w[target].id}/keys` },
  [`POST /v2/apps/{${target}}/keys`]: { method: 'POST', path: (w) => `/v2/apps/${w[target].id}/keys`, body: { displayName: 'New key' } },
  [`GET /v2/apps/{${target}}/keys/{key}`]: { method: 'GET', path: (w) => `/v2/apps/${w[target].id}/keys/${w.keyOf[target]}` },
  [`DELETE /v2/apps/{${target}}/keys/{key}`]: { method: 'DELETE', path: (w) => `/v2/apps/${w[target].id}/keys/${w.keyOf[target]}` },
});

const routes: Record<string, Route> = {
  'GET /v2/apps': { method: 'GET', path: () => '/v2/apps' },
  'POST /v2/apps': { method: 'POST', path: () => '/v2/apps', body: { displayName: 'Created by matrix' } },
  ...appRoutes('own'),
  ...appRoutes('sibling'),
  ...appRoutes('foreign'),
};

/** Columns: Basic app, Basic account, Basic service account, JWT app, JWT account, JWT appUser, OAuth Bearer. */
type Row = [number, number, number, number, number, number, number];
const expectations: Record<string, Row> = {
  //                                       Bapp Bacc Bsvc Japp Jacc Juser Oauth
  'GET /v2/apps':                          [403, 200, 200, 403, 200, 403, 403],
  'POST /v2/apps':                         [403, 201, 201, 403, 201, 403, 403],
  'GET /v2/apps/{own}':                    [200, 200, 200, 200, 200, 403, 200],
  'PATCH /v2/apps/{own}':                  [200, 200, 200, 200, 200, 403, 200],
  'DELETE /v2/apps/{own}':                 [200, 200, 200, 200, 200, 403, 200],
  'GET /v2/apps/{own}/keys':               [200, 200, 200, 200, 200, 403, 200],
  'POST /v2/apps/{own}/keys':              [201, 201, 201, 201, 201, 403, 201],
  'GET /v2/apps/{own}/keys/{key}':         [200, 200, 200, 200, 200, 403, 200],
  'DELETE /v2/apps/{own}/keys/{key}':      [200, 200, 200, 200, 200, 403, 200],
  'GET /v2/apps/{sibling}':                [403, 200, 200, 403, 200, 403, 403],
  'PATCH /v2/apps/{sibling}':              [403, 200, 200, 403, 200, 403, 403],
  'DELETE /v2/apps/{sibling}':             [403, 200, 200, 403, 200, 403, 403],
  'GET /v2/apps/{sibling}/keys':           [403, 200, 200, 403, 200, 403, 403],
  'POST /v2/apps/{sibling}/keys':          [403, 201, 201, 403, 201, 403, 403],
  'GET /v2/apps/{sibling}/keys/{key}':     [403, 200, 200, 403, 200, 403, 403],
  'DELETE /v2/apps/{sibling}/keys/{key}':  [403, 200, 200, 403, 200, 403, 403],
  'GET /v2/apps/{foreign}':                [403, 404, 404, 403, 404, 403, 403],
  'PATCH /v2/apps/{foreign}':              [403, 404, 404, 403, 404, 403, 403],
  'DELETE /v2/apps/{foreign}':             [403, 404, 404, 403, 404, 403, 403],
  'GET /v2/apps/{foreign}/keys':           [403, 404, 404, 403, 404, 403, 403],
  'POST /v2/apps/{foreign}/keys':          [403, 404, 404, 403, 404, 403, 403],
  'GET /v2/apps/{foreign}/keys/{key}':     [403, 404, 404, 403, 404, 403, 403],
  'DELETE /v2/apps/{foreign}/keys/{key}':  [403, 404, 404, 403, 404, 403, 403],
};

const matrix = Object.entries(expectations).flatMap(([route, row]) => kinds.map((kind, index) => ({ kind, route, status: row[index]! })));

/** Checks a response against an expected status, with the exact body for 403 and the error code for 404. */
async function expectStatus(response: Response, status: number, context: string): Promise<void> {
  if (status === 403) return expectForbidden(response, context);
  const text = await response.text();
  expect(response.status, `${context}: ${text}`).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  if (status === 404) expect(JSON.parse(text)).toEqual({ errors: [{ code: 'app_not_found', title: 'App not found' }] });
}

describe('credential kind × level × route', () => {
  it('covers every route for every kind', () => {
    expect(Object.keys(expectations).sort()).toEqual(Object.keys(routes).sort());
    expect(matrix).toHaveLength(Object.keys(routes).length * kinds.length);
  });

  it.each(matrix)('$kind: $route → $status', async ({ kind, route, status }) => {
    const world = await newWorld();
    const auth = await credentialFor(kind, world.own);
    const { method, path, body } = routes[route]!;
    const response = await call(server.url, method, path(world), { auth, ...(body !== undefined ? { body } : {}) });
    await expectStatus(response, status, `${kind} ${route}`);
  });

  it('a refused call changes nothing: the app and the key are still there', async () => {
    const world = await newWorld();
    const auth = await credentialFor('Basic app key', world.own);
    await expectForbidden(await call(server.url, 'DELETE', `/v2/apps/${world.sibling.id}`, { auth }));
    await expectForbidden(await call(server.url, 'DELETE', `/v2/apps/${world.sibling.id}/keys/${world.keyOf.sibling}`, { auth }));
    const account = basic(await accountKey(server.db, owner.account.id));
    const stillThere = await call(server.url, 'GET', `/v2/apps/${world.sibling.id}/keys/${world.keyOf.sibling}`, { auth: account });
    expect(stillThere.status).toBe(200);
    const foreignAccount = basic(await accountKey(server.db, stranger.account.id));
    expect((await call(server.url, 'GET', `/v2/apps/${world.foreign.id}`, { auth: foreignAccount })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------
// Permissions inside a level
// ---------------------------------------------------------------------------

interface PermissionCase {
  kind: Kind;
  permissions: string[];
  route: string;
  status: number;
}

const permissionCases: PermissionCase[] = [
  ...(['Basic app key', 'JWT app', 'OAuth Bearer'] as Kind[]).flatMap((kind) => [
    { kind, permissions: ['app:read'], route: 'GET /v2/apps/{own}', status: 200 },
    { kind, permissions: ['app:read'], route: 'PATCH /v2/apps/{own}', status: 403 },
    { kind, permissions: ['app:read'], route: 'DELETE /v2/apps/{own}', status: 403 },
    { kind, permissions: ['app:read'], route: 'GET /v2/apps/{own}/keys', status: 403 },
    { kind, permissions: ['app:read'], route: 'POST /v2/apps/{own}/keys', status: 403 },
    { kind, permissions: ['app:read'], route: 'GET /v2/apps/{own}/keys/{key}', status: 403 },
    { kind, permissions: ['app:read'], route: 'DELETE /v2/apps/{own}/keys/{key}', status: 403 },
    { kind, permissions: ['keys:manage'], route: 'GET /v2/apps/{own}', status: 403 },
    { kind, permissions: ['keys:manage'], route: 'GET /v2/apps/{own}/keys', status: 200 },
    { kind, permissions: ['keys:manage'], route: 'POST /v2/apps/{own}/keys', status: 201 },
    { kind, permissions: ['app:manage'], route: 'GET /v2/apps/{own}', status: 200 },
    { kind, permissions: ['app:manage'], route: 'PATCH /v2/apps/{own}', status: 200 },
    { kind, permissions: ['message:send'], route: 'GET /v2/apps/{own}', status: 403 },
  ]),
  ...(['Basic account key', 'Basic service-account key', 'JWT account'] as Kind[]).flatMap((kind) => [
    { kind, permissions: ['app:read'], route: 'GET /v2/apps', status: 200 },
    { kind, permissions: ['app:read'], route: 'POST /v2/apps', status: 403 },
    { kind, permissions: ['app:read'], route: 'GET /v2/apps/{sibling}', status: 200 },
    { kind, permissions: ['app:read'], route: 'PATCH /v2/apps/{sibling}', status: 403 },
    { kind, permissions: ['app:read'], route: 'DELETE /v2/apps/{sibling}', status: 403 },
    { kind, permissions: ['app:read'], route: 'GET /v2/apps/{sibling}/keys', status: 403 },
    { kind, permissions: ['app:read'], route: 'POST /v2/apps/{sibling}/keys', status: 403 },
    { kind, permissions: ['keys:manage'], route: 'GET /v2/apps', status: 403 },
    { kind, permissions: ['keys:manage'], route: 'DELETE /v2/apps/{sibling}/keys/{key}', status: 200 },
    { kind, permissions: ['app:manage'], route: 'POST /v2/apps', status: 201 },
    { kind, permissions: ['users:manage'], route: 'GET /v2/apps', status: 403 },
  ]),
];

describe('permissions inside a level', () => {
  it.each(permissionCases)('$kind with only $permissions: $route → $status', async ({ kind, permissions, route, status }) => {
    const world = await newWorld();
    const auth = await credentialFor(kind, world.own, permissions);
    const { method, path, body } = routes[route]!;
    const response = await call(server.url, method, path(world), { auth, ...(body !== undefined ? { body } : {}) });
    await expectStatus(response, status, `${kind} ${permissions.join(',')} ${route}`);
  });

  it.each([
    ['Basic app key', 'app'],
    ['JWT app', 'app'],
    ['Basic account key', 'account'],
    ['Basic service-account key', 'account'],
    ['JWT account', 'account'],
    ['JWT appUser', 'appUser'],
    ['OAuth Bearer', 'app'],
  ] as [Kind, 'app' | 'account' | 'appUser'][])('%s granted all permissions holds every permission of level %s', async (kind, level) => {
    const app = await newApp();
    const response = await current(await credentialFor(kind, app));
    expect(response.status).toBe(200);
    const { credential } = (await response.json()) as { credential: { level: string; permissions: string[]; accountId: string } };
    expect(credential.level).toBe(level);
    expect(credential.accountId).toBe(owner.account.id);
    expect([...credential.permissions].sort()).toEqual([...levelPermissions[level]].sort());
  });

  it('an app key restricted to app-level permissions gives its appUser JWTs only what is also appUser-level', async () => {
    const app = await newApp();
    const key = await appKey(server.db, app, { permissions: ['message:send', 'app:read'] });
    const response = await current(await bearerJwt(key, { scope: 'appUser', externalId: 'ext-9' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      credential: { type: 'jwt', level: 'appUser', appId: app.id, externalId: 'ext-9', keyId: key.id, permissions: ['message:send'] },
    });
  });

  it('an OAuth token limited to app:read reads the app and may not change it', async () => {
    const app = await newApp();
    const token = await oauthToken(server.url, partner, ownerLogin(), app.id, 'app:read');
    expect(token.scope).toBe('app:read');
    const auth = `Bearer ${token.access_token}`;
    const read = await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { app: { id: string } }).app.id).toBe(app.id);
    await expectForbidden(await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth, body: { displayName: 'No' } }));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}/keys`, { auth }));
    expect(await (await current(auth)).json()).toMatchObject({
      credential: { type: 'bearer', level: 'app', appId: app.id, clientId: partner.id, permissions: ['app:read'] },
    });
  });

  it('a refreshed token narrowed with scope=app:read acts only with app:read', async () => {
    const app = await newApp();
    const first = await oauthToken(server.url, partner, ownerLogin(), app.id, 'app:read app:manage');
    const refreshed = await checkedFetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
        scope: 'app:read',
        client_id: partner.id,
        client_secret: partner.secret,
      }),
    });
    const body = (await refreshed.json()) as { access_token: string; scope: string };
    expect(refreshed.status, JSON.stringify(body)).toBe(200);
    expect(body.scope).toBe('app:read');
    const auth = `Bearer ${body.access_token}`;
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);
    await expectForbidden(await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth, body: { displayName: 'No' } }));
    expect(await (await current(auth)).json()).toMatchObject({ credential: { permissions: ['app:read'] } });
  });

  it('an OAuth token for app A is refused on app B of the same owner', async () => {
    const [a, b] = [await newApp(), await newApp()];
    const auth = `Bearer ${(await oauthToken(server.url, partner, ownerLogin(), a.id)).access_token}`;
    expect((await call(server.url, 'GET', `/v2/apps/${a.id}`, { auth })).status).toBe(200);
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${b.id}`, { auth }));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${b.id}/keys`, { auth }));
    await expectForbidden(await current(auth, `?appId=${b.id}`));
  });

  it('GET /v2/credentials/current?appId=&permission= answers 200 only when the credential may use that permission on that app', async () => {
    const [app, sibling] = [await newApp(), await newApp()];
    const key = await appKey(server.db, app, { permissions: ['app:read'] });
    const auth = basic(key);
    expect((await current(auth, `?appId=${app.id}&permission=app:read`)).status).toBe(200);
    await expectForbidden(await current(auth, `?appId=${app.id}&permission=app:manage`));
    await expectForbidden(await current(auth, `?appId=${sibling.id}&permission=app:read`));
    await expectForbidden(await current(auth, `?appId=${(await newApp(stranger.account.id)).id}`));
    const unknown = await current(auth, '?permission=no:such');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ errors: [{ code: 'bad_request', title: expect.any(String) }] });

    const account = basic(await accountKey(server.db, owner.account.id));
    expect((await current(account, `?appId=${sibling.id}&permission=keys:manage`)).status).toBe(200);
    await expectForbidden(await current(account, `?appId=${(await newApp(stranger.account.id)).id}`));
  });

  it('a service-account key may list only its own service account with filter[serviceAccountId]', async () => {
    const key = await serviceAccountKey(server.db, owner.account.id);
    const own = await call(server.url, 'GET', `/v2/apps?filter[serviceAccountId]=${key.serviceAccountId}`, { auth: basic(key) });
    expect(own.status).toBe(200);
    await expectForbidden(await call(server.url, 'GET', '/v2/apps?filter[serviceAccountId]=someone-else', { auth: basic(key) }));
    await expectForbidden(
      await call(server.url, 'GET', `/v2/apps?filter[serviceAccountId]=${key.serviceAccountId}`, {
        auth: basic(await accountKey(server.db, owner.account.id)),
      }),
    );
  });
});

// ---------------------------------------------------------------------------
// 2. The 401 and 403 answers
// ---------------------------------------------------------------------------

describe('the 401 and 403 answers', () => {
  it('403 is exactly the contract body, byte for byte, for a level, a permission and an app refusal', async () => {
    const app = await newApp();
    const key = await appKey(server.db, app, { permissions: ['app:read'] });
    const responses = [
      await call(server.url, 'GET', '/v2/apps', { auth: basic(key) }),
      await call(server.url, 'PATCH', `/v2/apps/${app.id}`, { auth: basic(key), body: { displayName: 'x' } }),
      await call(server.url, 'GET', `/v2/apps/${(await newApp()).id}`, { auth: basic(key) }),
    ];
    for (const response of responses) {
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.equals(Buffer.from(FORBIDDEN_BODY, 'utf8'))).toBe(true);
      expect(bytes.toString('utf8')).toBe('{"requestError":{"serviceException":{"messageId":"FORBIDDEN","text":"Forbidden"}}}');
    }
  });

  it.each([
    ['no Authorization header', undefined],
    ['an empty Authorization header', ''],
    ['an unknown scheme', 'Digest username="x"'],
    ['Basic with an unknown key', basicAuth('app_000000000000000000000000:nope')],
    ['Basic with no colon', basicAuth('justanid')],
    ['Basic with an empty id', basicAuth(':secret')],
    ['Basic with garbage base64', 'Basic %%%not-base64%%%'],
    ['Bearer with a random string', 'Bearer 3f9a8c7d6e5b4a3f2e1d0c9b8a7f6e5d'],
    ['Bearer with nothing after it', 'Bearer '],
    ['Basic whose key id holds a NUL byte', basicAuth('app_\u0000x:secret')],
    ['Basic of binary junk decoding to a NUL', basicAuth([0xff, 0xfe, 0x00, 0x3a, 0x01])],
    ['Basic of invalid UTF-8', basicAuth([0xff, 0xfe, 0x41, 0x3a, 0x01])],
    ['Basic with a 5000-character key id', basicAuth(`${'x'.repeat(5000)}:s`)],
  ])('%s → 401 with WWW-Authenticate and the JSON error', async (_name, auth) => {
    const response = await checkedFetch(`${server.url}/v2/credentials/current`, { headers: auth === undefined ? {} : { authorization: auth } });
    await expectUnauthorized(response);
  });

  it('a right key id with a wrong secret is 401, and the same key with its secret works', async () => {
    const key = await appKey(server.db, await newApp());
    await expectUnauthorized(await current(basic({ id: key.id, secret: `${key.secret}x` })));
    await expectUnauthorized(await current(basic({ id: key.id, secret: '' })));
    expect((await current(basic(key))).status).toBe(200);
    // The secret may itself contain a colon-free high-entropy string; the scheme name is case-insensitive.
    expect((await current(basic(key).replace(/^Basic/, 'basic'))).status).toBe(200);
  });

  it('WWW-Authenticate names the Bearer error for an invalid token', async () => {
    const response = await current('Bearer not-a-token');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="appgrant", error="invalid_token"/);
    await expectUnauthorized(response);
  });

  it('a key secret sealed for one key id does not open for another (ciphertexts are bound to their row)', async () => {
    const app = await newApp();
    const [first, second] = [await appKey(server.db, app), await appKey(server.db, app)];
    const sealed = (await server.db('api_keys').where({ id: first.id }).first()) as { secret_ciphertext: string };
    expect(box.open(sealed.secret_ciphertext, first.id)).toBe(first.secret);
    await server.db('api_keys').where({ id: second.id }).update({ secret_ciphertext: sealed.secret_ciphertext });
    await expectUnauthorized(await current(basic({ id: second.id, secret: first.secret })));
    await expectUnauthorized(await current(basic(second)));
    expect((await current(basic(first))).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------
// 3. JWT edge cases
// ---------------------------------------------------------------------------

function hmac(algorithm: 'sha256' | 'sha512', secret: string, input: string): string {
  return createHmac(algorithm, secret).update(input).digest('base64url');
}

/** A JWT signed by hand: any header, any payload, HMAC with the given hash. */
function signed(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  const unsigned = handmadeJwt(header, payload).slice(0, -1);
  return `${unsigned}.${hmac(algorithm, secret, unsigned)}`;
}

describe('JWT credentials', () => {
  let app: App;
  let appK: IssuedKey;
  let accountK: IssuedKey;

  beforeAll(async () => {
    app = await newApp();
    appK = await appKey(server.db, app);
    accountK = await accountKey(server.db, owner.account.id);
  });

  const refused: [string, () => Promise<string> | string][] = [
    ['exp 120 s in the past (beyond the 60 s tolerance)', () => jwt(appK, { scope: 'app', exp: now() - 120 })],
    ['exp an hour in the past', () => jwt(appK, { scope: 'app', iat: now() - 7200, exp: now() - 3600 })],
    ['exp not a number', () => jwt(appK, { scope: 'app', exp: 'tomorrow' as unknown as number })],
    ['iat an hour in the future', () => jwt(appK, { scope: 'app', iat: now() + 3600 })],
    ['nbf an hour in the future', () => jwt(appK, { scope: 'app', nbf: now() + 3600 })],
    ['an unknown kid', () => jwt({ id: 'app_000000000000000000000000', secret: appK.secret }, { scope: 'app' })],
    ['no kid', () => signed({ alg: 'HS256', typ: 'JWT' }, { scope: 'app', iat: now() }, appK.secret)],
    ['a kid holding a NUL byte', () => signed({ alg: 'HS256', kid: `${appK.id}\u0000` }, { scope: 'app', iat: now() }, appK.secret)],
    ['a header that is not JSON', () => `${Buffer.from('{nope').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.sig`],
    ['a numeric kid', () => signed({ alg: 'HS256', kid: 42 }, { scope: 'app', iat: now() }, appK.secret)],
    ['alg none, no signature', () => handmadeJwt({ alg: 'none', kid: appK.id }, { scope: 'app', iat: now() })],
    ['alg None, HMAC signature', () => signed({ alg: 'None', kid: appK.id }, { scope: 'app', iat: now() }, appK.secret)],
    ['alg HS512 signed with the secret', () => signed({ alg: 'HS512', kid: appK.id }, { scope: 'app', iat: now() }, appK.secret, 'sha512')],
    ['alg HS512 header over an HS256 signature', () => signed({ alg: 'HS512', kid: appK.id }, { scope: 'app', iat: now() }, appK.secret)],
    ['alg RS256 header', () => signed({ alg: 'RS256', kid: appK.id }, { scope: 'app', iat: now() }, appK.secret)],
    ['alg hs256 in lower case', () => signed({ alg: 'hs256', kid: appK.id }, { scope: 'app', iat: now() }, appK.secret)],
    ['HS256 with an empty signature', () => `${handmadeJwt({ alg: 'HS256', kid: appK.id }, { scope: 'app', iat: now() })}`],
    [
      'a tampered payload (the signature of another payload)',
      async () => {
        const [header, , signature] = (await jwt(appK, { scope: 'appUser', userId: 'u1' })).split('.');
        const payload = Buffer.from(JSON.stringify({ scope: 'app', iat: now() })).toString('base64url');
        return `${header}.${payload}.${signature}`;
      },
    ],
    ['signed with a wrong secret', () => jwt({ id: appK.id, secret: 'not-the-secret-of-this-key-at-all' }, { scope: 'app' })],
    ['signed with another key’s secret', () => jwt({ id: appK.id, secret: accountK.secret }, { scope: 'app' })],
    ['an app key signing scope account', () => jwt(appK, { scope: 'account' })],
    ['an account key signing scope app', () => jwt(accountK, { scope: 'app' })],
    ['an account key signing scope appUser', () => jwt(accountK, { scope: 'appUser', userId: 'u1' })],
    ['appUser without userId or externalId', () => jwt(appK, { scope: 'appUser' })],
    ['appUser with an empty userId', () => jwt(appK, { scope: 'appUser', userId: '' })],
    ['appUser with a numeric userId', () => jwt(appK, { scope: 'appUser', userId: 12 })],
    ['no scope', () => jwt(appK, {})],
    ['an unknown scope', () => jwt(appK, { scope: 'admin' })],
    ['scope as an array', () => jwt(appK, { scope: ['app'] })],
    ['scope in another case', () => jwt(appK, { scope: 'App' })],
  ];

  it.each(refused)('%s → 401', async (_name, make) => {
    const response = await current(`Bearer ${await make()}`);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    await expectUnauthorized(response);
  });

  it.each([
    ['exp 30 s in the past (within tolerance)', () => ({ scope: 'app', iat: now() - 600, exp: now() - 30 })],
    ['exp in the future', () => ({ scope: 'app', exp: now() + 600 })],
    ['iat 30 s in the future (within tolerance)', () => ({ scope: 'app', iat: now() + 30 })],
    ['no iat at all', () => ({ scope: 'app', iat: undefined })],
  ])('%s → 200', async (_name, claims) => {
    const response = await current(await bearerJwt(appK, claims()));
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ credential: { type: 'jwt', level: 'app', appId: app.id, keyId: appK.id } });
  });

  it('an account key signs scope account; an app key signs app and appUser (userId or externalId)', async () => {
    expect(await (await current(await bearerJwt(accountK, { scope: 'account' }))).json()).toMatchObject({
      credential: { type: 'jwt', level: 'account', accountId: owner.account.id, keyId: accountK.id },
    });
    const byUserId = (await (await current(await bearerJwt(appK, { scope: 'appUser', userId: 'u-7' }))).json()) as { credential: Record<string, unknown> };
    expect(byUserId.credential).toMatchObject({ level: 'appUser', appId: app.id, userId: 'u-7' });
    expect(byUserId.credential.externalId).toBeUndefined();
    expect(await (await current(await bearerJwt(appK, { scope: 'appUser', externalId: 'crm-1' }))).json()).toMatchObject({
      credential: { level: 'appUser', appId: app.id, externalId: 'crm-1' },
    });
  });

  it('a token that verified before is refused once its exp passes: the remembered verification is timed again', async () => {
    const strict = await startTestServer({ ...keyEncryptionEnv, JWT_CLOCK_TOLERANCE: '0' });
    try {
      const strictOwner = await strict.createOwner({ appNames: ['Strict'] });
      const key = await appKey(strict.db, strictOwner.apps[0]!);
      const token = await bearerJwt(key, { scope: 'app', exp: now() + 2 });
      const ask = () => call(strict.url, 'GET', '/v2/credentials/current', { auth: token });
      expect((await ask()).status).toBe(200);
      expect((await ask()).status).toBe(200);
      await new Promise((done) => setTimeout(done, 3_000));
      await expectUnauthorized(await ask());
    } finally {
      await strict.close();
    }
  });

  it('a JWT of a revoked key is refused', async () => {
    const key = await appKey(server.db, app);
    const token = await bearerJwt(key, { scope: 'app' });
    expect((await current(token)).status).toBe(200);
    expect(await revokeApiKey(server.db, key.id, undefined, { actor: { type: 'operator' } })).toBe(true);
    await expectUnauthorized(await current(token));
  });
});

// ---------------------------------------------------------------------------
// 4. Key expiry and allowed IPs
// ---------------------------------------------------------------------------

describe('key expiry', () => {
  it('a key works until its expiresAt, then answers 403 with the exact body (Basic and JWT)', async () => {
    const app = await newApp();
    const expiresAt = new Date(Date.now() + 2500);
    const key = await appKey(server.db, app, { expiresAt: expiresAt.toISOString() });
    const token = await bearerJwt(key, { scope: 'app' });
    expect((await current(basic(key))).status).toBe(200);
    expect((await current(token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 300));
    await expectForbidden(await current(basic(key)));
    await expectForbidden(await current(token));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
  });

  it('a key created through the API with expiresAt reports it and expires the same way', async () => {
    const app = await newApp();
    const account = basic(await accountKey(server.db, owner.account.id));
    const expiresAt = new Date(Date.now() + 2500);
    const created = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: account, body: { displayName: 'Short', expiresAt: expiresAt.toISOString() } });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: { id: string; secret: string; expiresAt: string } };
    expect(new Date(key.expiresAt).getTime()).toBe(expiresAt.getTime());
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, expiresAt.getTime() - Date.now() + 300));
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
  });

  it('an expired key with a wrong secret is 401, not 403: expiry is never told to someone without the secret', async () => {
    const key = await appKey(server.db, await newApp(), { expiresAt: new Date(Date.now() + 1000).toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 1300));
    await expectForbidden(await current(basic(key)));
    await expectUnauthorized(await current(basic({ id: key.id, secret: 'wrong' })));
    await expectUnauthorized(await current(await bearerJwt({ id: key.id, secret: 'wrong-secret-wrong-secret' }, { scope: 'app' })));
  });

  it('an expiresAt in the past is refused at creation', async () => {
    const app = await newApp();
    const account = basic(await accountKey(server.db, owner.account.id));
    const response = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, {
      auth: account,
      body: { displayName: 'Late', expiresAt: new Date(Date.now() - 1000).toISOString() },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('bad_request');
  });
});

describe('allowed IPs (the test client is 127.0.0.1)', () => {
  it.each([
    [['127.0.0.0/8'], 200],
    [['127.0.0.1'], 200],
    [['127.0.0.1/32'], 200],
    [['10.0.0.0/8', '127.0.0.1/32'], 200],
    [['10.0.0.0/8'], 403],
    [['127.0.0.2/32'], 403],
    [['::1/128'], 403],
    [['::1'], 403],
    [['::/0'], 403],
  ] as [string[], number][])('allowed %j → %i (Basic and JWT)', async (allowedIps, status) => {
    const app = await newApp();
    const key = await appKey(server.db, app, { allowedIps });
    for (const auth of [basic(key), await bearerJwt(key, { scope: 'app' })]) {
      const response = await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth });
      if (status === 403) await expectForbidden(response, JSON.stringify(allowedIps));
      else expect(response.status).toBe(status);
    }
  });

  it('X-Forwarded-For does not move the caller into the ranges when the server does not trust a proxy', async () => {
    const app = await newApp();
    const key = await appKey(server.db, app, { allowedIps: ['10.0.0.0/8'] });
    for (const header of ['x-forwarded-for', 'x-real-ip', 'forwarded']) {
      const value = header === 'forwarded' ? 'for=10.1.2.3' : '10.1.2.3';
      await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key), headers: { [header]: value } }), header);
    }
  });

  it('a caller outside the ranges with a wrong secret is 401, not 403', async () => {
    const key = await appKey(server.db, await newApp(), { allowedIps: ['10.0.0.0/8'] });
    await expectForbidden(await current(basic(key)));
    await expectUnauthorized(await current(basic({ id: key.id, secret: 'wrong' })));
  });

  it('an IP-restricted key created through the API keeps its normalized ranges', async () => {
    const app = await newApp();
    const account = basic(await accountKey(server.db, owner.account.id));
    const created = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, {
      auth: account,
      body: { displayName: 'Office', allowedIps: ['10.0.0.0/8', '2001:db8::/32'] },
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: { id: string; secret: string; allowedIps: string[] } };
    expect(key.allowedIps).toHaveLength(2);
    await expectForbidden(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
    const bad = await call(server.url, 'POST', `/v2/apps/${app.id}/keys`, { auth: account, body: { displayName: 'Bad', allowedIps: ['10.0.0.0/33'] } });
    expect(bad.status).toBe(400);
  });
});

describe('addressInRanges', () => {
  it.each([
    ['127.0.0.1', ['127.0.0.0/8'], true],
    ['127.0.0.1', ['127.0.0.1/32'], true],
    ['127.0.0.1', ['127.0.0.1'], true],
    ['10.1.2.3', ['127.0.0.0/8'], false],
    ['10.1.2.3', ['192.168.0.0/16', '10.0.0.0/8'], true],
    ['203.0.113.7', ['203.0.113.0/25'], true],
    ['203.0.113.200', ['203.0.113.0/25'], false],
    ['::1', ['::1/128'], true],
    ['::1', ['::1'], true],
    ['::2', ['::1/128'], false],
    ['2001:db8::1', ['2001:db8::/32'], true],
    ['2001:db9::1', ['2001:db8::/32'], false],
    ['2001:DB8:0:0:0:0:0:1', ['2001:db8::/32'], true],
    // How a dual-stack socket reports an IPv4 client.
    ['::ffff:127.0.0.1', ['127.0.0.0/8'], true],
    ['::ffff:10.0.0.5', ['10.0.0.0/8'], true],
    ['::ffff:10.0.0.5', ['127.0.0.0/8'], false],
    ['::ffff:127.0.0.1', ['::1/128'], false],
    // Families never match each other.
    ['127.0.0.1', ['::1/128'], false],
    ['127.0.0.1', ['::/0'], false],
    ['::1', ['0.0.0.0/0'], false],
    ['::1', ['127.0.0.0/8'], false],
    // Not an address.
    ['', ['0.0.0.0/0'], false],
    ['localhost', ['127.0.0.0/8'], false],
    ['127.0.0.1', [], false],
  ] as [string, string[], boolean][])('%s in %j → %s', (address, ranges, inside) => {
    expect(addressInRanges(address, ranges)).toBe(inside);
  });

  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    [' 127.0.0.1 ', '127.0.0.1/32'],
    ['::1', '0:0:0:0:0:0:0:1/128'],
    ['2001:db8::/32', '2001:db8:0:0:0:0:0:0/32'],
    ['10.0.0.0/33', undefined],
    ['not-an-ip', undefined],
    ['', undefined],
  ])('normalizeRange(%j) → %j', (text, normalized) => {
    expect(normalizeRange(text)).toBe(normalized);
  });
});

// ---------------------------------------------------------------------------
// 5. Revocation, at once
// ---------------------------------------------------------------------------

describe('revocation on one instance', () => {
  it('DELETE /v2/apps/{id}/keys/{keyId} stops the key on the very next request (Basic and JWT)', async () => {
    const app = await newApp();
    const key = await appKey(server.db, app);
    const token = await bearerJwt(key, { scope: 'app' });
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) })).status).toBe(200);
    const account = basic(await accountKey(server.db, owner.account.id));
    const deleted = await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: account });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({});
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key) }));
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: token }));
    const again = await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: account });
    expect(again.status).toBe(404);
  });

  it('an app key may revoke itself; it is refused right after', async () => {
    const app = await newApp();
    const key = await appKey(server.db, app);
    expect((await call(server.url, 'DELETE', `/v2/apps/${app.id}/keys/${key.id}`, { auth: basic(key) })).status).toBe(200);
    await expectUnauthorized(await current(basic(key)));
  });

  it('revokeApiKey (what the CLI does) stops an account key at once', async () => {
    const key = await accountKey(server.db, owner.account.id);
    expect((await call(server.url, 'GET', '/v2/apps', { auth: basic(key) })).status).toBe(200);
    expect(await revokeApiKey(server.db, key.id, undefined, { actor: { type: 'operator' } })).toBe(true);
    await expectUnauthorized(await call(server.url, 'GET', '/v2/apps', { auth: basic(key) }));
    expect(await revokeApiKey(server.db, key.id, undefined, { actor: { type: 'operator' } })).toBe(false);
  });

  it('DELETE /oauth/authorization with the Bearer token stops the token on /v2 at once', async () => {
    const app = await newApp();
    const auth = `Bearer ${(await oauthToken(server.url, partner, ownerLogin(), app.id)).access_token}`;
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);
    const revoked = await checkedFetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: auth } });
    expect(revoked.status).toBe(204);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth }));
  });

  it('DELETE /oauth/authorization?client_id= with the app’s own key removes the partner and its token', async () => {
    const app = await newApp();
    const auth = `Bearer ${(await oauthToken(server.url, partner, ownerLogin(), app.id)).access_token}`;
    const key = await appKey(server.db, app);
    const revoked = await checkedFetch(`${server.url}/oauth/authorization?client_id=${partner.id}`, { method: 'DELETE', headers: { authorization: basic(key) } });
    expect(revoked.status).toBe(204);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth }));
    const none = await checkedFetch(`${server.url}/oauth/authorization?client_id=${partner.id}`, { method: 'DELETE', headers: { authorization: basic(key) } });
    expect(none.status).toBe(404);
  });

  it('RFC 7009 revocation of the access token stops it on /v2 at once', async () => {
    const app = await newApp();
    const token = await oauthToken(server.url, partner, ownerLogin(), app.id);
    const auth = `Bearer ${token.access_token}`;
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);
    const revoked = await checkedFetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(partner.id, partner.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: token.access_token, token_type_hint: 'access_token' }),
    });
    expect(revoked.status).toBe(200);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth }));
  });

  it('a refresh token is not an access token: 401 as a Bearer credential', async () => {
    const app = await newApp();
    const token = await oauthToken(server.url, partner, ownerLogin(), app.id);
    expect(token.refresh_token).toBeTruthy();
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${token.refresh_token}` }));
  });

  it('an app key cannot remove a partner from another app: 404, and that app’s token keeps working', async () => {
    const [app, other] = [await newApp(), await newApp()];
    const auth = `Bearer ${(await oauthToken(server.url, partner, ownerLogin(), app.id)).access_token}`;
    const otherKey = await appKey(server.db, other);
    const response = await checkedFetch(`${server.url}/oauth/authorization?client_id=${partner.id}`, { method: 'DELETE', headers: { authorization: basic(otherKey) } });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth })).status).toBe(200);
  });

  it('DELETE /oauth/authorization refuses account-level credentials with the 403 body', async () => {
    const key = await accountKey(server.db, owner.account.id);
    await expectForbidden(await checkedFetch(`${server.url}/oauth/authorization?client_id=${partner.id}`, { method: 'DELETE', headers: { authorization: basic(key) } }));
  });
});

// ---------------------------------------------------------------------------
// 6. CORS
// ---------------------------------------------------------------------------

describe('CORS (CORS_ORIGINS=https://web.example)', () => {
  it('an appUser JWT from the allowed origin gets Access-Control-Allow-Origin', async () => {
    const key = await appKey(server.db, await newApp());
    const response = await current(await bearerJwt(key, { scope: 'appUser', userId: 'browser-user' }), '', { origin: webOrigin });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(webOrigin);
    expect(response.headers.get('vary')).toMatch(/origin/i);
  });

  it('an appUser JWT from another origin gets no CORS headers', async () => {
    const key = await appKey(server.db, await newApp());
    const response = await current(await bearerJwt(key, { scope: 'appUser', userId: 'browser-user' }), '', { origin: 'https://evil.example' });
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual([]);
  });

  it.each(['Basic app key', 'Basic account key', 'Basic service-account key', 'JWT app', 'JWT account', 'OAuth Bearer'] as Kind[])(
    '%s from the allowed origin gets no Access-Control-* headers at all',
    async (kind) => {
      const app = await newApp();
      const auth = await credentialFor(kind, app);
      const responses = [
        await current(auth, '', { origin: webOrigin }),
        await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth, headers: { origin: webOrigin } }),
        await call(server.url, 'GET', '/v2/apps', { auth, headers: { origin: webOrigin } }),
      ];
      expect(responses[0]!.status).toBe(200);
      expect(responses[1]!.status).toBe(200);
      for (const response of responses) expect(corsHeaders(response), `${kind} ${response.url} ${response.status}`).toEqual([]);
    },
  );

  it('a 401 carries no CORS headers', async () => {
    const response = await current('Bearer nope', '', { origin: webOrigin });
    expect(response.status).toBe(401);
    expect(corsHeaders(response)).toEqual([]);
  });

  it.each(['/v2/credentials/current', '/v2/apps', '/v2/apps/0123456789abcdef01234567/keys'])(
    'a preflight for %s from the allowed origin → 204 with the allow headers',
    async (path) => {
      // A preflight is the browser's question about CORS, answered before routing: no operation of the API.
      expectUndescribed('OPTIONS', path);
      const response = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: webOrigin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(webOrigin);
      expect(response.headers.get('access-control-allow-methods')).toMatch(/GET/);
      expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    },
  );

  it('a preflight from another origin gets no CORS headers', async () => {
    const response = await fetch(`${server.url}/v2/credentials/current`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(response.status).toBeLessThan(500);
    expect(corsHeaders(response)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Allowed IPs over real IPv6: a dual-stack server (HOST=::) sees ::1 for
// http://[::1]:port and ::ffff:127.0.0.1 for http://127.0.0.1:port.
// ---------------------------------------------------------------------------

/** Whether this machine has an IPv6 loopback to test with (some containers have none). */
const ipv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

describe.runIf(ipv6Loopback)('allowed IPs on a dual-stack server', () => {
  let dual: TestServer;
  let v4: string;
  let v6: string;
  let dualApp: App;

  beforeAll(async () => {
    dual = await startTestServer({ ...keyEncryptionEnv, HOST: '::' });
    const port = new URL(dual.url).port;
    v4 = `http://127.0.0.1:${port}`;
    v6 = `http://[::1]:${port}`;
    const dualOwner = await dual.createOwner({ appNames: ['Dual'] });
    dualApp = dualOwner.apps[0]!;
  });

  afterAll(async () => {
    await dual?.close();
  });

  it.each([
    [['::1/128'], 200, 403],
    [['::1'], 200, 403],
    [['127.0.0.0/8'], 403, 200],
    [['127.0.0.1'], 403, 200],
    [['::1/128', '127.0.0.1/32'], 200, 200],
    [['10.0.0.0/8', '2001:db8::/32'], 403, 403],
  ] as [string[], number, number][])('allowed %j → %i from [::1], %i from 127.0.0.1', async (allowedIps, fromV6, fromV4) => {
    const key = await appKey(dual.db, dualApp, { allowedIps });
    for (const [base, status] of [[v6, fromV6], [v4, fromV4]] as [string, number][]) {
      const response = await call(base, 'GET', `/v2/apps/${dualApp.id}`, { auth: basic(key) });
      if (status === 403) await expectForbidden(response, `${base} ${JSON.stringify(allowedIps)}`);
      else expect(response.status, `${base} ${JSON.stringify(allowedIps)}`).toBe(status);
    }
  });
});

// ---------------------------------------------------------------------------
// 5b. Two instances on one PostgreSQL database: a revocation on A is seen by B
// on its very next request.
// ---------------------------------------------------------------------------

describe.runIf(testDatabaseKind === 'postgres')('revocation across two instances on one PostgreSQL', () => {
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  let db: RunningServer['database']['knex'];
  let pairOwner: { email: string; password: string };
  let pairApp: App;
  let pairPartner: { id: string; secret: string };

  beforeAll(async () => {
    postgres = await createPostgresDatabase();
    const settings = testSettings({ DATABASE_URL: postgres.url, ...keyEncryptionEnv });
    const logger = createLogger(settings.LOG_LEVEL);
    a = await startServer({ settings, logger });
    // B must accept what A issues: one issuer for both, as behind one load balancer.
    b = await startServer({ settings: { ...settings, ISSUER: a.issuer }, logger });
    db = a.database.knex;
    const hasher = passwordHasherFor(settings);
    const password = 'correct horse battery';
    const account = await createAccount(db, hasher, { email: `pair-${Date.now()}@example.com`, password, name: 'Pair' });
    pairOwner = { email: account.email, password };
    pairApp = await createApp(db, account.id, { displayName: 'Shared' });
    const created = await createPartner(db, hasher, settings, { name: 'Pair Partner', redirectUris: ['https://partner.example/callback'], permissions: ['all'] });
    pairPartner = { id: created.partner.id, secret: created.clientSecret };
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await postgres?.drop();
  });

  it('an app key used on B, revoked through A’s API, is refused by B on the next request (Basic and JWT)', async () => {
    const key = await appKey(db, pairApp);
    const token = await bearerJwt(key, { scope: 'app' });
    expect((await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth: basic(key) })).status).toBe(200);
    expect((await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth: token })).status).toBe(200);
    const account = basic(await accountKey(db, pairApp.account_id));
    expect((await call(a.url, 'DELETE', `/v2/apps/${pairApp.id}/keys/${key.id}`, { auth: account })).status).toBe(200);
    await expectUnauthorized(await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth: basic(key) }));
    await expectUnauthorized(await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth: token }));
  });

  it('an account key used on B, revoked with revokeApiKey, is refused by B on the next request', async () => {
    const key = await accountKey(db, pairApp.account_id);
    expect((await call(b.url, 'GET', '/v2/apps', { auth: basic(key) })).status).toBe(200);
    expect(await revokeApiKey(db, key.id, undefined, { actor: { type: 'operator' } })).toBe(true);
    await expectUnauthorized(await call(b.url, 'GET', '/v2/apps', { auth: basic(key) }));
  });

  it('a key created on A works on B at once', async () => {
    const account = basic(await accountKey(db, pairApp.account_id));
    const created = await call(a.url, 'POST', `/v2/apps/${pairApp.id}/keys`, { auth: account, body: { displayName: 'From A' } });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: IssuedKey };
    expect((await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth: basic(key) })).status).toBe(200);
  });

  it('an OAuth token used on B, its authorization deleted on A, is refused by B on the next request', async () => {
    const token = await oauthToken(a.url, pairPartner, pairOwner, pairApp.id);
    const auth = `Bearer ${token.access_token}`;
    expect((await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth })).status).toBe(200);
    expect((await call(b.url, 'GET', '/v2/credentials/current', { auth })).status).toBe(200);
    const revoked = await checkedFetch(`${a.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: auth } });
    expect(revoked.status).toBe(204);
    await expectUnauthorized(await call(b.url, 'GET', `/v2/apps/${pairApp.id}`, { auth }));
    await expectUnauthorized(await call(b.url, 'GET', '/v2/credentials/current', { auth }));
  });

  it('an OAuth token used on A, revoked by the app’s key on B, is refused by A', async () => {
    const token = await oauthToken(a.url, pairPartner, pairOwner, pairApp.id);
    const auth = `Bearer ${token.access_token}`;
    expect((await call(a.url, 'GET', `/v2/apps/${pairApp.id}`, { auth })).status).toBe(200);
    const key = await appKey(db, pairApp);
    const revoked = await checkedFetch(`${b.url}/oauth/authorization?client_id=${pairPartner.id}`, { method: 'DELETE', headers: { authorization: basic(key) } });
    expect(revoked.status).toBe(204);
    await expectUnauthorized(await call(a.url, 'GET', `/v2/apps/${pairApp.id}`, { auth }));
  });
});
