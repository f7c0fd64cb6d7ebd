import { createHash, createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { CookieBrowser } from '../support/browser.ts';
import { authorizeThroughPages, exchangeCode, introspect, tokenBody, type TokenResponse } from '../support/flow.ts';
import { basic, call, encryptionSecret, expectUnauthorized, keyEncryptionEnv } from '../support/credentials.ts';
import { BearerDigests } from '../../src/keys/bearer-digests.ts';
import { logInToDashboard, ownerCookie } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createDurableStore, startServerOnStore, type DurableStore, type StoredServer } from '../support/restart.ts';
import { createAccount } from '../../src/accounts/accounts.ts';
import { createApp } from '../../src/apps/apps.ts';
import { createPartner, rotatePartnerSecret } from '../../src/partners/partners.ts';
import { partnerSecretsFor } from '../../src/partners/partner-secrets.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { newCredential } from '../../src/keys/credential-formats.ts';
import { passwordVerifications } from '../support/metrics.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * A copy of the database hands out nothing that works: after a full run
 * (logins, consent, code exchange, refresh, API calls, keys, a dashboard
 * session) no secret, token, code, session id or cookie value the run saw
 * is stored verbatim anywhere, and what is stored in their place is refused
 * when presented.
 */

/** Every row of every table, as text. */
async function databaseDump(db: Knex): Promise<string> {
  const tables = (await db.raw("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'")).rows as {
    table_name: string;
  }[];
  expect(tables.map((table) => table.table_name)).toContain('oauth_records');
  const dumps: string[] = [];
  for (const { table_name: table } of tables) dumps.push(`${table}: ${JSON.stringify(await db(table).select('*'))}`);
  return dumps.join('\n');
}

function refreshBody(partner: { id: string; secret: string }, refreshToken: string): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: partner.id, client_secret: partner.secret }),
  };
}

interface FullRun {
  partner: { id: string; secret: string };
  appId: string;
  browser: CookieBrowser;
  code: string;
  first: TokenResponse;
  refreshed: TokenResponse;
  keySecret: string;
  dashboardCookie: string;
  dashboardBrowser: CookieBrowser;
}

/** Consent, code exchange, refresh, /v2 calls, a key created with the token, a dashboard login: everything a run sees. */
async function fullRun(base: string, owner: { email: string; password: string }, partner: { id: string; secret: string }, appId: string): Promise<FullRun> {
  const browser = new CookieBrowser(base);
  const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, owner, { appId });
  const code = callback.searchParams.get('code')!;
  const first = await tokenBody(await exchangeCode(base, partner, { code }));
  expect(first.access_token, JSON.stringify(first)).toBeTruthy();
  const refreshed = await tokenBody(await fetch(`${base}/oauth/token`, refreshBody(partner, first.refresh_token)));
  expect(refreshed.access_token, JSON.stringify(refreshed)).toBeTruthy();
  expect((await call(base, 'GET', `/v2/apps/${appId}`, { auth: `Bearer ${refreshed.access_token}` })).status).toBe(200);
  const created = await call(base, 'POST', `/v2/apps/${appId}/keys`, { auth: `Bearer ${refreshed.access_token}`, body: { displayName: 'Minted' } });
  expect(created.status).toBe(201);
  const { key } = (await created.json()) as { key: { id: string; secret: string } };
  expect((await call(base, 'GET', `/v2/apps/${appId}`, { auth: basic(key) })).status).toBe(200);
  const { browser: dashboardBrowser, sessionCookie } = await logInToDashboard(base, owner);
  expect((await dashboardBrowser.get('/dashboard')).status).toBe(200);
  return { partner, appId, browser, code, first, refreshed, keySecret: key.secret, dashboardCookie: sessionCookie, dashboardBrowser };
}

function secretsOf(run: FullRun): string[] {
  return [
    run.partner.secret,
    run.code,
    run.first.access_token,
    run.first.refresh_token,
    run.refreshed.access_token,
    run.refreshed.refresh_token,
    run.keySecret,
    run.dashboardCookie,
    ...run.browser.cookiesSeen,
    ...run.dashboardBrowser.cookiesSeen,
  ];
}

describe('secrets at rest', () => {
  let server: TestServer;
  let run: FullRun;

  beforeAll(async () => {
    server = await startTestServer();
    const owner = await server.createOwner();
    const created = await server.createPartner({ permissions: ['app:read', 'keys:manage'] });
    run = await fullRun(server.url, { email: owner.account.email, password: owner.password }, { id: created.partner.id, secret: created.clientSecret }, owner.apps[0]!.id);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('no secret, token, code, session id or cookie value the run saw is stored verbatim', async () => {
    const dump = await databaseDump(server.db);
    const seen = secretsOf(run);
    // The engine's session and interaction cookies were among them.
    expect(run.browser.cookiesSeen.size).toBeGreaterThanOrEqual(3);
    for (const secret of seen) {
      expect(secret.length).toBeGreaterThanOrEqual(20);
      expect(dump.includes(secret), `stored verbatim: ${secret.slice(0, 6)}…`).toBe(false);
    }
  });

  it('an access token id copied out of the database is refused by the API and introspection', async () => {
    const rows = await server.db('oauth_records').select('id').where({ kind: 'AccessToken' });
    expect(rows.length).toBeGreaterThan(0);
    for (const { id } of rows) {
      await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${run.appId}`, { auth: `Bearer ${id}` }));
      const introspection = await fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: basicAuth(run.partner.id, run.partner.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: id }),
      });
      expect(await introspection.json()).toEqual({ active: false });
    }
    // The token itself still works.
    expect((await call(server.url, 'GET', `/v2/apps/${run.appId}`, { auth: `Bearer ${run.refreshed.access_token}` })).status).toBe(200);
  });

  it('a refresh token or code id copied out of the database is refused at the token endpoint', async () => {
    const refreshRows = await server.db('oauth_records').select('id').where({ kind: 'RefreshToken' });
    expect(refreshRows.length).toBeGreaterThan(0);
    for (const { id } of refreshRows) {
      const response = await fetch(`${server.url}/oauth/token`, refreshBody(run.partner, id));
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    }
    const codeRows = await server.db('oauth_records').select('id').where({ kind: 'AuthorizationCode' });
    expect(codeRows.length).toBeGreaterThan(0);
    for (const { id } of codeRows) {
      const response = await exchangeCode(server.url, run.partner, { code: id });
      expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    }
  });

  it('a dashboard session row used as the cookie signs nobody in', async () => {
    const rows = await server.db('web_sessions').select('id_hash');
    expect(rows.length).toBeGreaterThan(0);
    for (const { id_hash: stored } of rows) {
      const response = await fetch(`${server.url}/dashboard`, { headers: { cookie: `${ownerCookie}=${stored}` }, redirect: 'manual' });
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
    }
    expect((await run.dashboardBrowser.get('/dashboard')).status).toBe(200);
  });
});

/**
 * Rows an earlier version wrote (the token, code or session id itself as
 * the record id, a plain SHA-256 of the dashboard cookie) keep working once
 * a server with this version starts on them, and are no longer stored
 * verbatim.
 */
describe('records written by an earlier version', () => {
  // The server's own digests, from the key-encryption key it is given, to find the rows of known tokens.
  const digests = new BearerDigests([{ id: 'k1', secret: encryptionSecret }]);
  const legacyCookieKey = 'a-cookie-key-kept-in-plain-form-by-an-earlier-version';
  let store: DurableStore;
  let server: StoredServer;

  beforeAll(async () => {
    store = await createDurableStore();
    server = await startServerOnStore(store, keyEncryptionEnv);
  });

  afterAll(async () => {
    await server?.close();
    await store?.cleanup();
  });

  /** Rewrites a record as the earlier version stored it: under its plain id, the id in its payload. */
  async function asEarlierVersion(kind: string, plain: string): Promise<void> {
    const [row] = await server.db('oauth_records').select('id', 'payload').where({ kind, id: digests.digest(plain), id_digested: true });
    expect(row, kind).toBeTruthy();
    await server.db('oauth_records')
      .where({ kind, id: row.id })
      .update({ id: plain, payload: JSON.stringify({ ...row.payload, jti: plain }), id_digested: false });
  }

  it('keeps tokens and dashboard sessions working across the upgrade', async () => {
    const password = 'an old owner password 42';
    const account = await createAccount(server.db, server.hasher, { email: 'earlier@example.com', password, name: 'Earlier' });
    const app = await createApp(server.db, account.id, { displayName: 'Earlier App' });
    const created = await createPartner(server.db, server.hasher, server.settings, {
      name: 'Earlier Partner',
      redirectUris: ['https://partner.example/callback'],
      permissions: ['app:read', 'keys:manage'],
      approved: true,
    });
    const run = await fullRun(server.url, { email: account.email, password }, { id: created.partner.id, secret: created.clientSecret }, app.id);
    await asEarlierVersion('AccessToken', run.refreshed.access_token);
    await asEarlierVersion('RefreshToken', run.refreshed.refresh_token);
    await server.db('web_sessions').update({ id_hash: createHash('sha256').update(run.dashboardCookie).digest('hex'), keyed: false });
    // Cookie keys as an earlier version kept them: in plain form.
    await server.db('server_keys').where({ purpose: 'cookie-keys' }).update({ material: JSON.stringify([legacyCookieKey]) });
    // The same address again: a refresh token is for the platform API under that issuer.
    const port = new URL(server.url).port;
    await server.close();

    server = await startServerOnStore(store, { ...keyEncryptionEnv, PORT: port, ISSUER: `http://127.0.0.1:${port}` });
    const dump = await databaseDump(server.db);
    for (const secret of [run.refreshed.access_token, run.refreshed.refresh_token, run.dashboardCookie, legacyCookieKey]) expect(dump.includes(secret)).toBe(false);
    const { material } = await server.db('server_keys').where({ purpose: 'cookie-keys' }).first();
    expect(Object.keys(material)).toEqual(['sealed']);
    expect(await server.db('oauth_records').where({ id_digested: false }).whereIn('kind', ['AccessToken', 'RefreshToken'])).toEqual([]);

    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${run.refreshed.access_token}` })).status).toBe(200);
    const dashboard = await fetch(`${server.url}/dashboard`, { headers: { cookie: `${ownerCookie}=${run.dashboardCookie}` }, redirect: 'manual' });
    expect(dashboard.status).toBe(200);
    const again = await fetch(`${server.url}/oauth/token`, refreshBody(run.partner, run.refreshed.refresh_token));
    expect(again.status, await again.clone().text()).toBe(200);

    // The same cookie key still signs: the engine's session cookie carries its signature.
    const browser = new CookieBrowser(server.url);
    await authorizeThroughPages(browser, { client_id: run.partner.id, response_type: 'code' }, { email: account.email, password }, { appId: app.id });
    const cookies = new Map(browser.cookieHeader().split('; ').map((pair) => pair.split('=') as [string, string]));
    const signed = `appgrant.session=${cookies.get('appgrant.session')}`;
    expect(cookies.get('appgrant.session.sig')).toBe(createHmac('sha1', legacyCookieKey).update(signed).digest('base64url'));
  });
});

/**
 * Partner secrets are made by the server (256 random bits) and stored as a
 * keyed SHA-256: checking one costs no argon2id. Secrets an earlier version
 * stored as argon2id hashes keep working until rotated.
 */
describe('partner secrets', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  function introspectAs(client: { id: string; secret: string }): Promise<Response> {
    return fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'not-a-token' }),
    });
  }

  it('are stored as a keyed digest, and checking one, right or wrong, hashes nothing with argon2id', async () => {
    const { partner, clientSecret } = await server.createPartner();
    const row = await server.db('partners').select('secret_hash').where({ id: partner.id }).first();
    expect(row.secret_hash).toMatch(/^hmac-sha256\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(clientSecret.split('_').at(-1)!, 'base64url').length * 8).toBeGreaterThanOrEqual(256);
    const before = await passwordVerifications(server.url);
    expect((await introspectAs({ id: partner.id, secret: clientSecret })).status).toBe(200);
    // A well-formed secret that is not this partner's: it passes the format check and is compared with the stored digest.
    const wrong = await introspectAs({ id: partner.id, secret: newCredential('clientSecret') });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_client');
    expect(await passwordVerifications(server.url)).toBe(before);
  });

  it('an argon2id hash of an earlier version still verifies; rotating gives a keyed digest and the old secret its grace period', async () => {
    const earlier = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
      name: 'Earlier Partner',
      redirectUris: ['https://partner.example/callback'],
      permissions: ['app:read'],
    });
    expect((await server.db('partners').select('secret_hash').where({ id: earlier.partner.id }).first()).secret_hash).toMatch(/^\$argon2id\$/);
    expect((await introspectAs({ id: earlier.partner.id, secret: earlier.clientSecret })).status).toBe(200);
    expect((await introspectAs({ id: earlier.partner.id, secret: 'wrong' })).status).toBe(401);

    const rotated = await rotatePartnerSecret(server.db, await partnerSecretsFor(server.db, server.settings.KEY_ENCRYPTION_KEYS), earlier.partner.id, 3600);
    const row = await server.db('partners').select('secret_hash', 'previous_secret_hash').where({ id: earlier.partner.id }).first();
    expect(row.secret_hash).toMatch(/^hmac-sha256\$/);
    expect(row.previous_secret_hash).toMatch(/^\$argon2id\$/);
    expect((await introspectAs({ id: earlier.partner.id, secret: rotated.clientSecret })).status).toBe(200);
    expect((await introspectAs({ id: earlier.partner.id, secret: earlier.clientSecret })).status).toBe(200);
  });
});

/**
 * A new key-encryption key goes first in KEY_ENCRYPTION_KEYS and the old one
 * stays until nothing needs it: records digested under the old key are
 * still found, and while both are configured every lookup asks for the id
 * under each key (the statements' `= any(…)` shape, record-ids.ts).
 */
describe('records digested under a key-encryption key since replaced', () => {
  let store: DurableStore;
  let server: StoredServer;

  beforeAll(async () => {
    store = await createDurableStore();
    server = await startServerOnStore(store, keyEncryptionEnv);
  });

  afterAll(async () => {
    await server?.close();
    await store?.cleanup();
  });

  it('a code issued before the new key is exchanged once, and its tokens work for the API, introspection and refresh', async () => {
    const password = 'a rotation owner password 42';
    const account = await createAccount(server.db, server.hasher, { email: 'rotation@example.com', password, name: 'Rotation' });
    const app = await createApp(server.db, account.id, { displayName: 'Rotation App' });
    const created = await createPartner(server.db, server.hasher, server.settings, {
      name: 'Rotation Partner',
      redirectUris: ['https://partner.example/callback'],
      permissions: ['app:read'],
      approved: true,
    });
    const partner = { id: created.partner.id, secret: created.clientSecret };
    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code' }, { email: account.email, password }, { appId: app.id });
    const code = callback.searchParams.get('code')!;
    const port = new URL(server.url).port;
    await server.close();

    const replacement = `k2:${randomBytes(32).toString('base64url')}`;
    server = await startServerOnStore(store, { KEY_ENCRYPTION_KEYS: `${replacement},${keyEncryptionEnv.KEY_ENCRYPTION_KEYS}`, PORT: port, ISSUER: `http://127.0.0.1:${port}` });
    const tokens = await tokenBody(await exchangeCode(server.url, partner, { code }));
    expect(tokens.access_token, JSON.stringify(tokens)).toBeTruthy();
    const replay = await exchangeCode(server.url, partner, { code });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    // The replay ended the authorization: a second one, still under both keys, for the rest.
    const again = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code' }, { email: account.email, password }, { appId: app.id });
    const fresh = await tokenBody(await exchangeCode(server.url, partner, { code: again.searchParams.get('code')! }));
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${fresh.access_token}` })).status).toBe(200);
    expect(await introspect(server.url, partner, fresh.access_token)).toMatchObject({ active: true });
    const refreshed = await tokenBody(await fetch(`${server.url}/oauth/token`, refreshBody(partner, fresh.refresh_token)));
    expect(refreshed.access_token, JSON.stringify(refreshed)).toBeTruthy();
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${refreshed.access_token}` })).status).toBe(200);
    expect((await call(server.url, 'GET', `/v2/apps/${app.id}`, { auth: `Bearer ${tokens.access_token}` })).status).toBe(401);
  });
});
