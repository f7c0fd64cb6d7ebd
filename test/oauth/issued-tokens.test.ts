import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser } from '../support/browser.ts';
import { basicAuth } from '../support/basic.ts';
import { authorizeThroughPages, exchangeCode, tokenBody } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { statementsDuring } from '../support/statements.ts';

/**
 * The access and refresh token of one token request are written together,
 * in one statement, before the answer leaves: the partner never holds a
 * token the server has not stored, and a request whose write fails hands
 * out nothing and leaves nothing behind.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };

beforeAll(async () => {
  server = await startTestServer();
  owner = await server.createOwner();
  const created = await server.createPartner();
  partner = { id: created.partner.id, secret: created.clientSecret };
});

afterAll(async () => {
  await server?.close();
});

async function freshCode(): Promise<string> {
  const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code' }, { email: owner.account.email, password: owner.password });
  return callback.searchParams.get('code')!;
}

/** The statements that write engine records while `send` is in flight. */
async function recordWritesDuring(send: () => Promise<Response>): Promise<{ response: Response; writes: string[] }> {
  const { response, statements } = await statementsDuring(server.db, /\b(update oauth_records|insert into oauth_records|appgrant_consume|appgrant_write_issued)\b/i, send);
  return { response, writes: statements };
}

async function storedTokenCount(): Promise<number> {
  const [row] = await server.db('oauth_records').whereIn('kind', ['AccessToken', 'RefreshToken']).count({ n: '*' });
  return Number(row!.n);
}

function refresh(refreshToken: string): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(partner.id, partner.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

describe('tokens issued by one request', () => {
  it('a code exchange consumes the code, then writes both tokens in one statement; both work', async () => {
    const code = await freshCode();
    const { response, writes } = await recordWritesDuring(() => exchangeCode(server.url, partner, { code }));
    expect(response.status).toBe(200);
    // The consume of the code, then one insert carrying the access and the refresh token.
    expect(writes).toHaveLength(2);
    expect(writes[0]).toMatch(/appgrant_consume/);
    expect(writes[1]).toMatch(/appgrant_write_issued/);
    const tokens = await tokenBody(response);
    const read = await fetch(`${server.url}/v2/apps/${owner.apps[0]!.id}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(read.status).toBe(200);

    const { response: refreshed, writes: refreshWrites } = await recordWritesDuring(() => refresh(tokens.refresh_token));
    expect(refreshed.status).toBe(200);
    // The consume of the refresh token (which notes the refresh on the authorization), then the new pair.
    expect(refreshWrites).toHaveLength(2);
    expect(refreshWrites[0]).toMatch(/appgrant_consume/);
    expect(refreshWrites[1]).toMatch(/appgrant_write_issued/);
    const rotated = await tokenBody(refreshed);
    expect((await fetch(`${server.url}/v2/apps/${owner.apps[0]!.id}`, { headers: { authorization: `Bearer ${rotated.access_token}` } })).status).toBe(200);
    expect((await refresh(rotated.refresh_token)).status).toBe(200);
  });

  it('when the write fails, the partner gets an error and no token, and none is stored', async () => {
    const code = await freshCode();
    const before = await storedTokenCount();
    await server.db.raw(`create function refuse_refresh_tokens() returns trigger language plpgsql as $$
      begin raise exception 'refresh tokens refused for this test'; end $$`);
    await server.db.raw(`create trigger refuse_refresh_tokens before insert on oauth_records
      for each row when (new.kind = 'RefreshToken') execute function refuse_refresh_tokens()`);
    try {
      const response = await exchangeCode(server.url, partner, { code });
      expect(response.status).toBe(500);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe('server_error');
      expect(body.access_token).toBeUndefined();
      expect(body.refresh_token).toBeUndefined();
      // Not even the access token, which the engine saved first.
      expect(await storedTokenCount()).toBe(before);
    } finally {
      await server.db.raw('drop trigger refuse_refresh_tokens on oauth_records');
      await server.db.raw('drop function refuse_refresh_tokens()');
    }
  });

  it('a refused exchange writes no token', async () => {
    const code = await freshCode();
    expect((await exchangeCode(server.url, partner, { code })).status).toBe(200);
    const before = await storedTokenCount();
    const { response, writes } = await recordWritesDuring(() => exchangeCode(server.url, partner, { code }));
    expect(response.status).toBe(400);
    expect((await tokenBody(response)).error).toBe('invalid_grant');
    expect(writes.filter((sql) => /appgrant_write_issued|insert into/i.test(sql))).toEqual([]);
    // The replay revoked the grant: the tokens of the first exchange are gone too.
    expect(await storedTokenCount()).toBeLessThan(before);
  });
});
