import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';
import { text } from '../support/browser.ts';
import { introspect } from '../support/flow.ts';
import { checkNoticeSignature, eventually, startNoticeReceiver, type NoticeReceiver } from '../support/notices.ts';
import { authorizedWithPkce, discover, insecure } from '../support/oauth-client.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * A partner retrying a refresh whose answer it lost, or two of its workers
 * refreshing with one token at once, keep their access: the same refresh
 * token presented again within REFRESH_TOKEN_REUSE_GRACE_SECONDS gets a
 * working pair and revokes nothing. Past the window the reuse is theft: the
 * authorization ends with cause refresh_replay, the partner gets a signed
 * notice saying so, and the owner's activity page says why. Driven with
 * oauth4webapi, a standard client, through the real endpoints.
 */

const redirectUri = 'https://partner.example/callback';

interface World {
  server: TestServer;
  as: oauth.AuthorizationServer;
  partner: { id: string; secret: string };
  owner: Awaited<ReturnType<TestServer['createOwner']>>;
}

async function world(env: Record<string, string>): Promise<World> {
  const server = await startTestServer(env);
  const owner = await server.createOwner();
  return withNewPartner({ server, as: await discover(server.issuer), partner: { id: '', secret: '' }, owner });
}

/** The same server and owner with a partner of its own, so each test reads only its own authorization's events. */
async function withNewPartner(w: World): Promise<World> {
  const created = await w.server.createPartner({ redirectUris: [redirectUri] });
  return { ...w, partner: { id: created.partner.id, secret: created.clientSecret } };
}

/** The partner's tokens from a fresh approval through the pages. */
async function approve({ server, as, partner, owner }: World): Promise<oauth.TokenEndpointResponse> {
  const { params, verifier } = await authorizedWithPkce({ base: server.url, as, clientId: partner.id, redirectUri, owner: { email: owner.account.email, password: owner.password } });
  const client = { client_id: partner.id };
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(partner.secret), params, redirectUri, verifier, insecure);
  return oauth.processAuthorizationCodeResponse(as, client, response);
}

/** One refresh as the partner sends it: the raw response, so a refusal can be read too. */
function refreshRequest({ as, partner }: World, refreshToken: string, who = partner): Promise<Response> {
  return oauth.refreshTokenGrantRequest(as, { client_id: who.id }, oauth.ClientSecretBasic(who.secret), refreshToken, insecure);
}

async function refreshed(world: World, refreshToken: string): Promise<oauth.TokenEndpointResponse> {
  return oauth.processRefreshTokenResponse(world.as, { client_id: world.partner.id }, await refreshRequest(world, refreshToken));
}

/** Whether an access token still reads its app on the platform API. */
async function readsApp({ server, owner }: World, accessToken: string): Promise<boolean> {
  const response = await fetch(`${server.url}/v2/apps/${owner.apps[0]!.id}`, { headers: { authorization: `Bearer ${accessToken}` } });
  return response.status === 200;
}

async function liveAuthorizations({ server, partner }: World): Promise<number> {
  return (await server.db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at')).length;
}

async function removals({ server, partner }: World): Promise<{ cause: string }[]> {
  return server.db('events').select('cause').where({ partner_id: partner.id, type: 'authorization.removed' });
}

describe('within the grace window', () => {
  let w: World;

  beforeAll(async () => {
    w = await world({});
  });

  afterAll(async () => {
    await w?.server.close();
  });

  it('a retried refresh gets a working pair and revokes nothing; it gains no time and no permission over the first', async () => {
    const first = await approve(w);
    const answered = await refreshed(w, first.refresh_token!);
    const retried = await refreshed(w, first.refresh_token!);
    expect(retried.refresh_token).not.toBe(answered.refresh_token);
    expect(retried.access_token).not.toBe(answered.access_token);
    expect(await readsApp(w, answered.access_token)).toBe(true);
    expect(await readsApp(w, retried.access_token)).toBe(true);
    expect(await liveAuthorizations(w)).toBe(1);
    expect(await removals(w)).toEqual([]);

    const [answeredRefresh, retriedRefresh] = await Promise.all([answered, retried].map((pair) => introspect(w.server.url, w.partner, pair.refresh_token!)));
    expect(answeredRefresh).toMatchObject({ active: true, scope: 'app:read message:send' });
    expect(retriedRefresh).toMatchObject({ active: true, scope: answeredRefresh!.scope });
    expect(retriedRefresh!.exp as number).toBeLessThanOrEqual(answeredRefresh!.exp as number);
    expect(retried.scope).toBe(answered.scope);

    // Each pair goes on refreshing, and both end with the authorization.
    const onward = await refreshed(w, retried.refresh_token!);
    expect(await readsApp(w, onward.access_token)).toBe(true);
    const remove = await fetch(`${w.server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${answered.access_token}` } });
    expect(remove.status).toBe(204);
    for (const token of [answered.access_token, retried.access_token, onward.access_token]) expect(await readsApp(w, token)).toBe(false);
    expect((await refreshRequest(w, onward.refresh_token!)).status).toBe(400);
  });

  it('two refreshes with one token at once both succeed, and both new refresh tokens keep working', async () => {
    w = await withNewPartner(w);
    const first = await approve(w);
    const responses = await Promise.all([refreshRequest(w, first.refresh_token!), refreshRequest(w, first.refresh_token!)]);
    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    const pairs = await Promise.all(responses.map((response) => oauth.processRefreshTokenResponse(w.as, { client_id: w.partner.id }, response)));
    expect(new Set(pairs.map((pair) => pair.refresh_token)).size).toBe(2);
    for (const pair of pairs) expect(await readsApp(w, (await refreshed(w, pair.refresh_token!)).access_token)).toBe(true);
    expect(await liveAuthorizations(w)).toBe(1);
    expect(await removals(w)).toEqual([]);
  });

  it('another partner presenting a just-used token is refused and revokes nothing', async () => {
    w = await withNewPartner(w);
    const first = await approve(w);
    await refreshed(w, first.refresh_token!);
    const other = await w.server.createPartner({ redirectUris: [redirectUri] });
    const response = await refreshRequest(w, first.refresh_token!, { id: other.partner.id, secret: other.clientSecret });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await liveAuthorizations(w)).toBe(1);
    expect(await removals(w)).toEqual([]);
  });
});

describe('past the grace window', () => {
  let w: World;
  let receiver: NoticeReceiver;

  beforeAll(async () => {
    receiver = await startNoticeReceiver();
    w = await world({ REFRESH_TOKEN_REUSE_GRACE_SECONDS: '1', NOTICE_POLL_INTERVAL_MS: '100' });
    await w.server.db('partners').where({ id: w.partner.id }).update({ remove_url: `${receiver.url}/removed` });
  });

  afterAll(async () => {
    await w?.server.close();
    await receiver?.close();
  });

  it('a reuse is theft: the authorization ends as a refresh replay, the partner is told in a signed notice, the owner reads why', async () => {
    const first = await approve(w);
    const answered = await refreshed(w, first.refresh_token!);
    await new Promise((wake) => setTimeout(wake, 2100));

    const replay = await refreshRequest(w, first.refresh_token!);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await readsApp(w, answered.access_token)).toBe(false);
    expect((await refreshRequest(w, answered.refresh_token!)).status).toBe(400);
    expect(await liveAuthorizations(w)).toBe(0);
    expect(await removals(w)).toEqual([{ cause: 'refresh_replay' }]);

    const removed = await eventually(
      async () => receiver.received.map((notice) => ({ notice, body: JSON.parse(notice.body) as Record<string, unknown> })).find(({ body }) => body.event === 'integration.removed'),
      10_000,
      'the removal notice',
    );
    expect(removed?.body).toMatchObject({ event: 'integration.removed', clientId: w.partner.id, appId: w.owner.apps[0]!.id, cause: 'refresh_replay' });
    expect((await checkNoticeSignature(w.server.issuer, removed!.notice.headers['appgrant-signature'], removed!.notice.body)).valid).toBe(true);

    const { browser } = await logInToDashboard(w.server.url, { email: w.owner.account.email, password: w.owner.password });
    const activity = await browser.get(`/dashboard/apps/${w.owner.apps[0]!.id}/activity`);
    expect(activity.status).toBe(200);
    expect(text(await activity.text())).toContain('Acme Integration was removed because a refresh token was used again after it had been replaced from Support');
  });
});

describe('REFRESH_TOKEN_REUSE_GRACE_SECONDS', () => {
  it('defaults to 60 s, may be 0 (every reuse is theft), and is refused out of range', () => {
    expect(loadSettings({}).REFRESH_TOKEN_REUSE_GRACE_SECONDS).toBe(60);
    expect(loadSettings({ REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0' }).REFRESH_TOKEN_REUSE_GRACE_SECONDS).toBe(0);
    for (const value of ['-1', '601', 'soon', '1.5']) {
      expect(() => loadSettings({ REFRESH_TOKEN_REUSE_GRACE_SECONDS: value }), value).toThrow(SettingsError);
      expect(() => loadSettings({ REFRESH_TOKEN_REUSE_GRACE_SECONDS: value })).toThrow(/REFRESH_TOKEN_REUSE_GRACE_SECONDS: /);
    }
  });
});
