import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { box, appKey, basic, call, expectUnauthorized, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { exchangeCode } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { credentialPrefixes, isWellFormed } from '../../src/keys/credential-formats.ts';
import { basicAuth } from '../support/basic.ts';
import { statementsDuring } from '../support/statements.ts';

/**
 * Credentials carry a fixed prefix per kind and a checksum (README,
 * "Credential formats"): a leak scanner recognises them, and a value that
 * is not one is refused before any database read. Values in the shape
 * they had before keep working.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };
let tokens: { access_token: string; refresh_token: string };

/** Statements that read or count credentials (the tables, or the hot-path functions reading them): what a malformed value must not cost. */
const credentialTables = /\b(oauth_records|api_keys|partners|rate_limits|appgrant_\w+_read)\b/;

/** The credential statements the server runs while `send` is in flight. */
async function credentialReadsDuring(send: () => Promise<Response>): Promise<{ response: Response; reads: string[] }> {
  const { response, statements } = await statementsDuring(server.db, credentialTables, send);
  return { response, reads: statements };
}

/** The value with its last character changed: the checksum no longer matches. */
function withWrongChecksum(value: string): string {
  return `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
}

function tokenRequest(fields: Record<string, string>, client = partner): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: client.id, client_secret: client.secret, ...fields }),
  });
}

beforeAll(async () => {
  server = await startTestServer({ ...keyEncryptionEnv, NOTICE_POLL_INTERVAL_MS: '600000' });
  owner = await server.createOwner();
  const created = await server.createPartner({ permissions: ['app:read', 'keys:manage'] });
  partner = { id: created.partner.id, secret: created.clientSecret };
  tokens = await oauthToken(server.url, partner, { email: owner.account.email, password: owner.password }, owner.apps[0]!.id);
});

afterAll(async () => {
  await server?.close();
});

describe('what the server issues', () => {
  it('every kind carries its prefix, 256 random bits in base62 and a checksum', async () => {
    expect(partner.secret).toMatch(/^agcs_[0-9A-Za-z]{49}$/);
    expect(isWellFormed('clientSecret', partner.secret)).toBe(true);
    expect(tokens.access_token).toMatch(/^agat_[0-9A-Za-z]{49}$/);
    expect(isWellFormed('accessToken', tokens.access_token)).toBe(true);
    expect(tokens.refresh_token).toMatch(/^agrt_[0-9A-Za-z]{49}$/);
    const created = await call(server.url, 'POST', `/v2/apps/${owner.apps[0]!.id}/keys`, { auth: `Bearer ${tokens.access_token}`, body: { displayName: 'Formatted' } });
    const { key } = (await created.json()) as { key: { id: string; secret: string } };
    expect(key.secret).toMatch(/^agk_[0-9A-Za-z]{49}$/);
    expect(isWellFormed('apiKeySecret', key.secret)).toBe(true);
    expect(Object.values(credentialPrefixes)).toEqual(['agk_', 'agcs_', 'agat_', 'agrt_', 'agac_']);
  });

  it('authorization codes too', async () => {
    const { CookieBrowser } = await import('../support/browser.ts');
    const { authorizeThroughPages } = await import('../support/flow.ts');
    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code' }, { email: owner.account.email, password: owner.password });
    const code = callback.searchParams.get('code')!;
    expect(code).toMatch(/^agac_[0-9A-Za-z]{49}$/);
    const { response, reads } = await credentialReadsDuring(() => exchangeCode(server.url, partner, { code: withWrongChecksum(code) }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    expect(reads.filter((sql) => /oauth_records|appgrant_token_request_read/.test(sql))).toEqual([]);
    // The code itself was not spent by the malformed attempt.
    expect((await exchangeCode(server.url, partner, { code })).status).toBe(200);
  });
});

describe('a wrong checksum is refused before any database read', () => {
  it('an access token: 401 on the API', async () => {
    const { response, reads } = await credentialReadsDuring(() => call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: `Bearer ${withWrongChecksum(tokens.access_token)}` }));
    await expectUnauthorized(response);
    expect(reads).toEqual([]);
    const { response: right, reads: rightReads } = await credentialReadsDuring(() => call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: `Bearer ${tokens.access_token}` }));
    expect(right.status).toBe(200);
    expect(rightReads.length).toBeGreaterThan(0);
  });

  it('junk in no known shape: 401 on the API, no read', async () => {
    for (const junk of ['agat_short', 'x'.repeat(60), 'agat_' + '!'.repeat(49)]) {
      const { response, reads } = await credentialReadsDuring(() => call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: `Bearer ${junk}` }));
      await expectUnauthorized(response);
      expect(reads).toEqual([]);
    }
  });

  it('an API key secret: 401 with Basic', async () => {
    const key = await appKey(server.db, owner.apps[0]!);
    expect(isWellFormed('apiKeySecret', key.secret)).toBe(true);
    const { response, reads } = await credentialReadsDuring(() => call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: basic({ id: key.id, secret: withWrongChecksum(key.secret) }) }));
    await expectUnauthorized(response);
    expect(reads).toEqual([]);
    expect((await call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: basic(key) })).status).toBe(200);
  });

  it('a client secret: 401 invalid_client at the token endpoint, posted or Basic', async () => {
    const wrong = { id: partner.id, secret: withWrongChecksum(partner.secret) };
    const posted = await credentialReadsDuring(() => tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, wrong));
    expect(posted.response.status).toBe(401);
    expect(((await posted.response.json()) as { error: string }).error).toBe('invalid_client');
    expect(posted.reads).toEqual([]);
    const viaBasic = await credentialReadsDuring(() => exchangeCode(server.url, wrong, { code: 'agac_anything' }));
    expect(viaBasic.response.status).toBe(401);
    expect(viaBasic.response.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(viaBasic.reads).toEqual([]);
  });

  it('a refresh token: invalid_grant, and the token itself was not touched', async () => {
    const { response, reads } = await credentialReadsDuring(() => tokenRequest({ grant_type: 'refresh_token', refresh_token: withWrongChecksum(tokens.refresh_token) }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
    expect(reads.filter((sql) => /oauth_records|appgrant_token_request_read/.test(sql))).toEqual([]);
    expect((await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token })).status).toBe(200);
  });
});

describe('credentials in the shape they had before prefixes', () => {
  const earlier = (seed: string) => Buffer.alloc(32, seed).toString('base64url');

  it('an API key secret of an earlier version still works with Basic', async () => {
    const key = await appKey(server.db, owner.apps[0]!);
    const secret = earlier('k');
    await server.db('api_keys').where({ id: key.id }).update({ secret_ciphertext: box.seal(secret, key.id) });
    expect((await call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: basic({ id: key.id, secret }) })).status).toBe(200);
    await expectUnauthorized(await call(server.url, 'GET', `/v2/apps/${owner.apps[0]!.id}`, { auth: basic({ id: key.id, secret: earlier('j') }) }));
  });

  it('a client secret of an earlier version still authenticates', async () => {
    const secret = earlier('c');
    const { partner: registered } = await createPartner(
      server.db,
      passwordHasherFor(server.settings),
      server.settings,
      { name: 'Earlier', redirectUris: ['https://partner.example/callback'], permissions: ['app:read'] },
      { id: 'ptn_earlier_shape', clientSecret: secret },
    );
    const introspection = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { authorization: basicAuth(registered.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(introspection.status).toBe(200);
  });
});
