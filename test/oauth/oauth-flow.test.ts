import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oidcClient from 'openid-client';
import { CookieBrowser, text } from '../support/browser.ts';
import { authorizeThroughPages, exchangeCode, introspect, tokenBody, walkAuthorization } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };
const redirectUri = 'https://partner.example/callback';

beforeAll(async () => {
  server = await startTestServer();
  owner = await server.createOwner({ appNames: ['Support', 'Sales'] });
  const created = await server.createPartner({ redirectUris: [redirectUri, 'https://partner.example/other'] });
  partner = { id: created.partner.id, secret: created.clientSecret };
});

afterAll(async () => {
  await server?.close();
});

const credentials = () => ({ email: owner.account.email, password: owner.password });

describe('the "Add to app" flow', () => {
  it('logs in, lets the owner pick among several apps, and issues a token for the chosen app', async () => {
    const browser = new CookieBrowser(server.url);
    const sales = owner.apps[1]!;
    const walk = await walkAuthorization(browser, { client_id: partner.id, response_type: 'code', state: 's-1' }, credentials(), {
      appId: sales.id,
    });
    expect(walk.pages.map((page) => page.step)).toEqual(['login', 'picker', 'consent']);
    expect(text(walk.pages[1]!.html)).toContain('Support');
    expect(text(walk.pages[2]!.html)).toMatch(/Allow Acme Integration to access Sales ?\?/);
    const callback = walk.callback!;
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get('state')).toBe('s-1');
    expect(callback.searchParams.get('iss')).toBe(server.issuer);
    const code = callback.searchParams.get('code')!;

    const response = await exchangeCode(server.url, partner, { code });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await tokenBody(response);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'app:read message:send', app_id: sales.id });
    expect(typeof body.access_token).toBe('string');
    expect(body.expires_in).toBeGreaterThan(0);

    const introspection = await introspect(server.url, partner, body.access_token);
    expect(introspection).toMatchObject({
      active: true,
      client_id: partner.id,
      app_id: sales.id,
      account_id: owner.account.id,
      scope: 'app:read message:send',
    });
    expect(introspection.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it('skips the app picker when the owner has exactly one app', async () => {
    const single = await server.createOwner({ appNames: ['Only App'] });
    const browser = new CookieBrowser(server.url);
    const { pages } = await walkAuthorization(browser, { client_id: partner.id, response_type: 'code' }, { email: single.account.email, password: single.password }, {
      stopAt: 'consent',
    });
    expect(pages.map((shown) => shown.step)).toEqual(['login', 'consent']);
    const loginPage = pages[0]!.html;
    expect(loginPage).toContain('<label for="email">Email</label>');
    expect(loginPage).toContain('<label for="password">Password</label>');
    expect(loginPage).toContain('>Log in</button>');
    const { html: page, response: consent } = pages[1]!;
    expect(page).not.toContain('type="radio"');
    expect(text(page)).toMatch(/Allow Acme Integration to access Only App ?\?/);
    expect(text(page)).toContain("Read the app's name, settings and metadata");
    expect(text(page)).toContain('Send messages to the users of the app on any channel');
    expect(page).toMatch(/>Allow<\/button>/);
    expect(page).toMatch(/>Deny<\/button>/);
    expect(consent.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('defaults redirect_uri to the first registered URL and accepts the exchange without it', async () => {
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials());
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    const response = await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! });
    expect(response.status).toBe(200);
  });

  it('redirects with access_denied and the state when the owner presses Deny', async () => {
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(
      browser,
      { client_id: partner.id, response_type: 'code', state: 'deny-state' },
      credentials(),
      { decision: 'deny' },
    );
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('deny-state');
    expect(callback.searchParams.get('code')).toBeNull();
    const live = await server.db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at');
    expect(live.every((row) => row.created_at)).toBe(true);
  });

  it('keeps a token for one app working after the same owner adds the partner to another app', async () => {
    // One browser session, two approvals: each authorization stands on its own.
    const browser = new CookieBrowser(server.url);
    const [support, sales] = [owner.apps[0]!, owner.apps[1]!];
    const first = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials(), { appId: support.id });
    const forSupport = await tokenBody(await exchangeCode(server.url, partner, { code: first.searchParams.get('code')! }));
    const second = await walkAuthorization(browser, { client_id: partner.id, response_type: 'code' }, credentials(), { appId: sales.id });
    expect(second.pages.map((page) => page.step), 'the session is still signed in').toEqual(['picker', 'consent']);
    const forSales = await tokenBody(await exchangeCode(server.url, partner, { code: second.callback!.searchParams.get('code')! }));
    expect(forSales.app_id).toBe(sales.id);
    expect(await introspect(server.url, partner, forSupport.access_token)).toMatchObject({ active: true, app_id: support.id });
    const read = await fetch(`${server.url}/v2/apps/${support.id}`, { headers: { authorization: `Bearer ${forSupport.access_token}` } });
    expect(read.status).toBe(200);
  });

  it('limits the token to the permissions asked for in scope', async () => {
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code', scope: 'app:read' }, credentials());
    const body = await tokenBody(await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! }));
    expect(body.scope).toBe('app:read');
  });
});

describe('the token endpoint', () => {
  async function freshCode(query: Record<string, string> = {}): Promise<string> {
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(
      browser,
      { client_id: partner.id, response_type: 'code', redirect_uri: redirectUri, ...query },
      credentials(),
      { appId: owner.apps[0]!.id },
    );
    return callback.searchParams.get('code')!;
  }

  it('accepts a JSON body with client_secret_post, as the platform SDKs send', async () => {
    const code = await freshCode();
    const response = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code', code, client_id: partner.id, client_secret: partner.secret, redirect_uri: redirectUri }),
    });
    expect(response.status).toBe(200);
    expect(await tokenBody(response)).toMatchObject({ token_type: 'Bearer', app_id: owner.apps[0]!.id });
  });

  it('accepts a form body with client_secret_post', async () => {
    const code = await freshCode();
    const response = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: partner.id, client_secret: partner.secret, redirect_uri: redirectUri }),
    });
    expect(response.status).toBe(200);
  });

  it('binds the code to its PKCE challenge', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = await freshCode({ code_challenge: challenge, code_challenge_method: 'S256' });
    const wrong = await exchangeCode(server.url, partner, { code, redirect_uri: redirectUri, code_verifier: randomBytes(32).toString('base64url') });
    expect(wrong.status).toBe(400);
    expect((await tokenBody(wrong)).error).toBe('invalid_grant');

    const second = await freshCode({ code_challenge: challenge, code_challenge_method: 'S256' });
    const right = await exchangeCode(server.url, partner, { code: second, redirect_uri: redirectUri, code_verifier: verifier });
    expect(right.status).toBe(200);
  });

  it('gives exactly one token for 20 concurrent exchanges of one code', async () => {
    const code = await freshCode();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => exchangeCode(server.url, partner, { code, redirect_uri: redirectUri })),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 400)).toHaveLength(19);
    for (const response of responses.filter((candidate) => candidate.status === 400)) {
      expect((await tokenBody(response)).error).toBe('invalid_grant');
    }
  });

  it('refuses a replayed code and revokes the token the first exchange issued', async () => {
    const code = await freshCode();
    const first = await tokenBody(await exchangeCode(server.url, partner, { code, redirect_uri: redirectUri }));
    expect((await introspect(server.url, partner, first.access_token)).active).toBe(true);
    const replay = await exchangeCode(server.url, partner, { code, redirect_uri: redirectUri });
    expect(replay.status).toBe(400);
    expect((await tokenBody(replay)).error).toBe('invalid_grant');
    expect((await introspect(server.url, partner, first.access_token)).active).toBe(false);
  });

  it('works with a standards-conformant OAuth client library (openid-client)', async () => {
    const config = await oidcClient.discovery(new URL(server.issuer), partner.id, partner.secret, oidcClient.ClientSecretBasic(partner.secret), {
      execute: [oidcClient.allowInsecureRequests],
    });
    const verifier = oidcClient.randomPKCECodeVerifier();
    const state = oidcClient.randomState();
    const authorizeUrl = oidcClient.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'app:read',
      state,
      code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(browser, Object.fromEntries(authorizeUrl.searchParams), credentials(), {
      appId: owner.apps[0]!.id,
    });
    const tokens = await oidcClient.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('app:read');
    expect(tokens.app_id).toBe(owner.apps[0]!.id);
  });

  it('refreshes a token into a new one for the same app, rotating the refresh token', async () => {
    const code = await freshCode();
    const first = await tokenBody(await exchangeCode(server.url, partner, { code, redirect_uri: redirectUri }));
    expect(first.refresh_token).toBeTruthy();
    const refreshed = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: partner.id, client_secret: partner.secret }),
    });
    expect(refreshed.status).toBe(200);
    const body = await tokenBody(refreshed);
    expect(body.app_id).toBe(owner.apps[0]!.id);
    expect(body.refresh_token).not.toBe(first.refresh_token);
  });
});

describe('revocation', () => {
  async function issueToken() {
    const browser = new CookieBrowser(server.url);
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials());
    return tokenBody(await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! }));
  }

  it('DELETE /oauth/authorization with the Bearer token removes the authorization and its tokens', async () => {
    const first = await issueToken();
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${first.access_token}` },
    });
    expect(response.status).toBe(204);
    expect((await introspect(server.url, partner, first.access_token)).active).toBe(false);
    expect((await introspect(server.url, partner, first.refresh_token)).active).toBe(false);
    const again = await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${first.access_token}` } });
    expect(again.status).toBe(401);
    expect(again.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('RFC 7009 revocation makes introspection answer active: false', async () => {
    const tokens = await issueToken();
    const response = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(partner.id, partner.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: tokens.access_token, token_type_hint: 'access_token' }),
    });
    expect(response.status).toBe(200);
    expect((await introspect(server.url, partner, tokens.access_token)).active).toBe(false);
  });

  it('refuses to let one partner revoke another partner\'s token', async () => {
    const tokens = await issueToken();
    const other = await server.createPartner();
    const response = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(other.partner.id, other.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    expect(response.status).toBe(400);
    expect((await tokenBody(response)).error).toBe('invalid_request');
    expect((await introspect(server.url, partner, tokens.access_token)).active).toBe(true);
  });

  it('lets the platform resource server introspect any token and a partner only its own', async () => {
    const tokens = await issueToken();
    const resourceServer = await server.createResourceServer();
    const platform = { id: resourceServer.partner.id, secret: resourceServer.clientSecret };
    expect(await introspect(server.url, platform, tokens.access_token)).toMatchObject({ active: true, client_id: partner.id });

    const other = await server.createPartner();
    const stranger = { id: other.partner.id, secret: other.clientSecret };
    expect(await introspect(server.url, stranger, tokens.access_token)).toEqual({ active: false });
  });
});
