import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field, formAction, text } from '../support/browser.ts';
import { authorizeThroughPages, exchangeCode, followable, introspect, tokenBody, walkAuthorization, type TokenResponse } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { logInToDashboard } from '../support/owner-web.ts';

/**
 * A (partner, app) pair has one authorization. Approving the partner again
 * updates its permissions; tokens issued before keep working, with the
 * updated permissions. Concurrent first approvals end with one authorization.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

async function newPair() {
  const owner = await server.createOwner({ appNames: ['Support'] });
  const created = await server.createPartner({ permissions: ['app:read', 'message:send'] });
  return {
    owner: { email: owner.account.email, password: owner.password },
    app: owner.apps[0]!,
    partner: { id: created.partner.id, secret: created.clientSecret },
  };
}

type Pair = Awaited<ReturnType<typeof newPair>>;

async function approve(pair: Pair, scope: string): Promise<TokenResponse> {
  const browser = new CookieBrowser(server.url);
  const callback = await authorizeThroughPages(browser, { client_id: pair.partner.id, response_type: 'code', scope }, pair.owner);
  const response = await exchangeCode(server.url, pair.partner, { code: callback.searchParams.get('code')! });
  expect(response.status).toBe(200);
  return tokenBody(response);
}

/** 200 when the access token may use the permission on the pair's app, 403 when not. */
async function permissionCheck(pair: Pair, accessToken: string, permission: string): Promise<number> {
  const query = new URLSearchParams({ appId: pair.app.id, permission });
  const response = await fetch(`${server.url}/v2/credentials/current?${query}`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

async function refresh(pair: Pair, refreshToken: string): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: pair.partner.id, client_secret: pair.partner.secret }),
  });
}

const authorizationsOf = (pair: Pair) => server.db('authorizations').where({ partner_id: pair.partner.id, app_id: pair.app.id });

describe('approving the same partner on the same app again', () => {
  it('updates the one authorization; tokens issued before keep working with the narrowed permissions', async () => {
    const pair = await newPair();
    const first = await approve(pair, 'app:read message:send');
    const [before] = await authorizationsOf(pair);
    expect(before.updated_at).toBeNull();

    const second = await approve(pair, 'app:read');
    expect(second.scope).toBe('app:read');
    const rows = await authorizationsOf(pair);
    expect(rows, 'one authorization for the pair, never a second one').toHaveLength(1);
    const [after] = rows;
    expect(after).toMatchObject({ id: before.id, grant_id: before.grant_id, revoked_at: null, permissions: ['app:read'] });
    expect(new Date(after.created_at).getTime(), 'the original approval date stays').toBe(new Date(before.created_at).getTime());
    expect(after.updated_at, 'the update is dated').not.toBeNull();

    // The first token still works, now under the updated permissions.
    expect(await permissionCheck(pair, first.access_token, 'app:read')).toBe(200);
    expect(await permissionCheck(pair, first.access_token, 'message:send')).toBe(403);
    expect(await introspect(server.url, pair.partner, first.access_token)).toMatchObject({ active: true, scope: 'app:read', app_id: pair.app.id });
    const read = await fetch(`${server.url}/v2/apps/${pair.app.id}`, { headers: { authorization: `Bearer ${first.access_token}` } });
    expect(read.status).toBe(200);

    // Its refresh token too: it refreshes into a token with the updated permissions.
    const refreshed = await refresh(pair, first.refresh_token);
    expect(refreshed.status).toBe(200);
    expect(await tokenBody(refreshed)).toMatchObject({ scope: 'app:read', app_id: pair.app.id });
    expect(await permissionCheck(pair, second.access_token, 'app:read')).toBe(200);

    // The owner's dashboard shows the one integration, approved once and changed since.
    const { browser } = await logInToDashboard(server.url, pair.owner);
    const page = text(await (await browser.get(`/dashboard/apps/${pair.app.id}`)).text());
    // One row: its Remove button is the only one naming the partner.
    expect(page.match(/Remove Acme Integration/g)).toHaveLength(1);
    expect(page).toMatch(/app:read \d{4}-\d\d-\d\d \d\d:\d\d UTC changed \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  });

  it('widens what earlier tokens may do when the owner approves more, and notifies nobody of a removal', async () => {
    const pair = await newPair();
    const first = await approve(pair, 'app:read');
    expect(await permissionCheck(pair, first.access_token, 'message:send')).toBe(403);
    await approve(pair, 'app:read message:send');
    expect(await permissionCheck(pair, first.access_token, 'message:send')).toBe(200);
    expect(await introspect(server.url, pair.partner, first.access_token)).toMatchObject({ active: true, scope: 'app:read message:send' });
    expect(await authorizationsOf(pair).whereNotNull('revoked_at')).toHaveLength(0);
    expect(await server.db('removal_notices').where({ partner_id: pair.partner.id })).toHaveLength(0);
  });
});

describe('concurrent first approvals of one pair', () => {
  /** A logged-in browser on the consent page of a new authorization request. */
  async function atConsent(pair: Pair): Promise<{ browser: CookieBrowser; page: string }> {
    const browser = new CookieBrowser(server.url);
    const { pages } = await walkAuthorization(browser, { client_id: pair.partner.id, response_type: 'code' }, pair.owner, { stopAt: 'consent' });
    expect(pages.map((page) => page.step)).toEqual(['login', 'consent']);
    return { browser, page: pages[1]!.html };
  }

  it('six sessions pressing Allow at once end with exactly one live authorization and no server error', async () => {
    const pair = await newPair();
    const sessions = [];
    for (let index = 0; index < 6; index += 1) sessions.push(await atConsent(pair));
    const answers = await Promise.all(
      sessions.map(({ browser, page }) =>
        browser.post(formAction(page, '/consent'), { _csrf: field(page, '_csrf')!, app: field(page, 'app')!, decision: 'allow' }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([303, 303, 303, 303, 303, 303]);

    const live = await authorizationsOf(pair).whereNull('revoked_at');
    expect(live).toHaveLength(1);
    expect(await authorizationsOf(pair), 'no authorization was created and replaced').toHaveLength(1);
    const grants = await server.db('oauth_records').where({ kind: 'Grant' }).andWhereRaw("payload->>'clientId' = ?", [pair.partner.id]);
    expect(grants.map((grant) => grant.id), 'no grant is left without its authorization').toEqual([live[0].grant_id]);

    // Every session's code works, for the one authorization.
    for (const [index, answer] of answers.entries()) {
      const browser = sessions[index]!.browser;
      let location = followable(answer, server.url);
      while (location.startsWith(server.url)) location = followable(await browser.get(location), server.url);
      const code = new URL(location).searchParams.get('code')!;
      const tokens = await tokenBody(await exchangeCode(server.url, pair.partner, { code }));
      expect(tokens.app_id).toBe(pair.app.id);
      expect(await permissionCheck(pair, tokens.access_token, 'app:read')).toBe(200);
    }
  });
});
