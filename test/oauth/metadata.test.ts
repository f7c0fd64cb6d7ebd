import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { importJWK } from 'jose';
import { CookieBrowser } from '../support/browser.ts';
import { authorizeThroughPages, type OwnerCredentials } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { authorizedWithPkce, discover, insecure } from '../support/oauth-client.ts';

/**
 * RFC 8414 metadata advertises only what works: every field is
 * exercised here (DPoP in test/credentials/dpop.test.ts, form_post in a real
 * browser in test/web/browser-flow.test.ts) through the real
 * endpoints with a standard client, oauth4webapi. The URLs in it come from
 * ISSUER whatever the request says its host is.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };
let as: oauth.AuthorizationServer;
const redirectUri = 'https://partner.example/callback';
const appPermissions = ['app:read', 'app:manage', 'message:send', 'inbound-message:read', 'users:manage', 'webhooks:manage', 'integrations:manage', 'events:read', 'keys:manage'];

beforeAll(async () => {
  // The test client is a trusted proxy, so forwarded Host and scheme are believed: they still never make a URL.
  server = await startTestServer({ TRUST_PROXY: '1' });
  owner = await server.createOwner();
  const created = await server.createPartner({ redirectUris: [redirectUri, 'https://partner.example/second'], permissions: appPermissions });
  partner = { id: created.partner.id, secret: created.clientSecret };
  as = await discover(server.issuer);
});

afterAll(async () => {
  await server?.close();
});

const client = (): oauth.Client => ({ client_id: partner.id });
const ownerCredentials = (): OwnerCredentials => ({ email: owner.account.email, password: owner.password });

/** A raw HTTP/1.1 request, so the Host header and the request line can be anything. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string; location: string | undefined }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((done, fail) => {
    const sent = request({ host: hostname, port, path, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => done({ status: response.statusCode ?? 0, body, location: response.headers.location }));
    });
    sent.on('error', fail);
    sent.end();
  });
}

const authorized = (query: Record<string, string> = {}) =>
  authorizedWithPkce({ base: server.url, as, clientId: partner.id, redirectUri, owner: ownerCredentials() }, query);

async function exchange(params: URLSearchParams, verifier: string, auth = oauth.ClientSecretBasic(partner.secret)): Promise<oauth.TokenEndpointResponse> {
  const response = await oauth.authorizationCodeGrantRequest(as, client(), auth, params, redirectUri, verifier, insecure);
  return oauth.processAuthorizationCodeResponse(as, client(), response);
}

describe('the metadata document', () => {
  it('advertises exactly the capabilities that work', async () => {
    const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const base = server.issuer;
    expect(await response.json()).toEqual({
      issuer: base,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      pushed_authorization_request_endpoint: `${base}/oauth/par`,
      introspection_endpoint: `${base}/oauth/introspect`,
      revocation_endpoint: `${base}/oauth/revoke`,
      jwks_uri: `${base}/oauth/jwks`,
      scopes_supported: appPermissions,
      response_types_supported: ['code'],
      response_modes_supported: ['query', 'form_post'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      dpop_signing_alg_values_supported: ['ES256', 'Ed25519', 'EdDSA'],
    });
    const openid = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(await openid.json()).toEqual(await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json());
  });

  it.each([
    ['a foreign Host', '/.well-known/oauth-authorization-server', { host: 'evil.example' }],
    ['an absolute-form request line', 'http://evil.example/.well-known/oauth-authorization-server', { host: 'evil.example' }],
    ['forwarded host and scheme', '/.well-known/oauth-authorization-server', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }],
  ])('builds every URL from ISSUER, whatever %s says', async (_name, path, headers) => {
    const { status, body } = await rawGet(path, headers);
    expect(status).toBe(200);
    expect(body).not.toContain('evil.example');
    const metadata = JSON.parse(body) as Record<string, unknown>;
    for (const [field, value] of Object.entries(metadata)) {
      if (typeof value === 'string' && /^https?:/.test(value)) expect(value.startsWith(server.issuer), field).toBe(true);
    }
  });

  it.each([
    ['a foreign Host', { host: 'evil.example' }],
    ['forwarded host and scheme', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }],
  ])('sends every redirect to ISSUER (or a path under it) whatever %s says', async (_name, headers) => {
    const authorize = (query: Record<string, string>) => `/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code', ...query })}`;
    const redirects = [
      // the flow's redirect to its login page, and an error sent back to the partner
      [authorize({}), undefined],
      [authorize({ scope: 'not-a-permission', state: 's' }), redirectUri],
      // the dashboard's and the portal's redirects to the login page
      ['/dashboard', undefined],
      ['/', undefined],
      ['/partners', undefined],
    ] as const;
    for (const [path, partnerUrl] of redirects) {
      const { status, body, location } = await rawGet(path, headers);
      expect([302, 303], `${path}: ${status}`).toContain(status);
      expect(`${location} ${body}`, path).not.toContain('evil.example');
      const target = new URL(location ?? '', server.issuer);
      expect(target.origin === new URL(server.issuer).origin || target.href.startsWith(partnerUrl ?? server.issuer), `${path} → ${location}`).toBe(true);
      if (partnerUrl) expect(target.searchParams.get('iss')).toBe(server.issuer);
    }
  });

  it.each([
    ['an unclosed IPv6 literal', '[::1'],
    ['userinfo', 'evil.example@other.example'],
    ['a space', 'evil.example other.example'],
    ['a port out of range', 'evil.example:99999'],
  ])('refuses a Host made of %s with 400, in the shape of the route', async (_name, host) => {
    const metadata = await rawGet('/.well-known/oauth-authorization-server', { host, accept: 'application/json' });
    expect(metadata.status).toBe(400);
    expect(JSON.parse(metadata.body)).toEqual({ errors: [{ code: 'bad_request', title: 'The Host header is malformed' }] });
    for (const path of ['/oauth/authorize?client_id=x', '/oauth/jwks']) {
      const engine = await rawGet(path, { host });
      expect(engine.status, path).toBe(400);
      expect(JSON.parse(engine.body), path).toEqual({ error: 'invalid_request', error_description: 'The Host header is malformed' });
    }
    const page = await rawGet('/login', { host, accept: 'text/html' });
    expect(page.status).toBe(400);
    expect(page.body).toContain('<!doctype html>');
  });

});

describe('the metadata document with refresh tokens switched off', () => {
  let noRefresh: TestServer;

  beforeAll(async () => {
    noRefresh = await startTestServer({ REFRESH_TOKENS: 'false' });
  });

  afterAll(async () => {
    await noRefresh?.close();
  });

  it('leaves refresh_token out of grant_types_supported', async () => {
    const metadata = (await (await fetch(`${noRefresh.url}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
    expect(metadata.grant_types_supported).toEqual(['authorization_code']);
  });
});

describe('each advertised capability, through oauth4webapi', () => {
  it('authorization_code with PKCE S256, iss in the response, client_secret_basic', async () => {
    const { params, verifier } = await authorized();
    expect(params.get('iss')).toBe(server.issuer);
    const tokens = await exchange(params, verifier);
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: appPermissions.join(' ') });
  });

  it('client_secret_post at the token endpoint', async () => {
    const { params, verifier } = await authorized();
    const tokens = await exchange(params, verifier, oauth.ClientSecretPost(partner.secret));
    expect(tokens.access_token).toBeTruthy();
  });

  it('every scope in scopes_supported, asked for by a partner registered for it', async () => {
    for (const scope of appPermissions) {
      const { params, verifier } = await authorized({ scope });
      expect((await exchange(params, verifier)).scope).toBe(scope);
    }
  });

  it('the refresh_token grant', async () => {
    const { params, verifier } = await authorized();
    const tokens = await exchange(params, verifier);
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client(),
      await oauth.refreshTokenGrantRequest(as, client(), oauth.ClientSecretBasic(partner.secret), tokens.refresh_token!, insecure),
    );
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).toBeTruthy();
  });

  it('introspection and revocation', async () => {
    const { params, verifier } = await authorized();
    const tokens = await exchange(params, verifier);
    const introspect = async () =>
      oauth.processIntrospectionResponse(
        as,
        client(),
        await oauth.introspectionRequest(as, client(), oauth.ClientSecretBasic(partner.secret), tokens.access_token, insecure),
      );
    expect(await introspect()).toMatchObject({ active: true, client_id: partner.id, app_id: owner.apps[0]!.id });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client(), oauth.ClientSecretBasic(partner.secret), tokens.access_token, insecure));
    expect(await introspect()).toMatchObject({ active: false });
  });

  it('jwks_uri: public signing keys only', async () => {
    const { keys } = (await (await fetch(as.jwks_uri!)).json()) as { keys: Record<string, string>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', kid: expect.any(String) });
      expect(key.d).toBeUndefined();
      expect((await importJWK(key, 'ES256')) as object).toBeTruthy();
    }
  });

  it('pushed authorization requests: the browser carries only the request_uri', async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const pushed = await oauth.processPushedAuthorizationResponse(
      as,
      client(),
      await oauth.pushedAuthorizationRequest(
        as,
        client(),
        oauth.ClientSecretBasic(partner.secret),
        {
          response_type: 'code',
          redirect_uri: redirectUri,
          state,
          scope: 'app:read',
          code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        },
        insecure,
      ),
    );
    expect(pushed.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(pushed.expires_in).toBeGreaterThan(0);
    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, request_uri: pushed.request_uri }, ownerCredentials());
    const params = oauth.validateAuthResponse(as, client(), callback, state);
    expect((await exchange(params, verifier)).scope).toBe('app:read');
  });

  it('pushed authorization requests default redirect_uri to the first registered URL, like /oauth/authorize', async () => {
    const response = await oauth.pushedAuthorizationRequest(as, client(), oauth.ClientSecretBasic(partner.secret), { response_type: 'code' }, insecure);
    const pushed = await oauth.processPushedAuthorizationResponse(as, client(), response);
    const callback = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, request_uri: pushed.request_uri }, ownerCredentials());
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it('pushed authorization requests refuse a client that does not authenticate, and a fragment response mode', async () => {
    const unauthenticated = await fetch(`${server.url}/oauth/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: partner.id, response_type: 'code', redirect_uri: redirectUri }),
    });
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ error: 'invalid_client' });
    const fragment = await oauth.pushedAuthorizationRequest(
      as,
      client(),
      oauth.ClientSecretBasic(partner.secret),
      { response_type: 'code', redirect_uri: redirectUri, response_mode: 'fragment' },
      insecure,
    );
    expect(fragment.status).toBe(400);
    expect(await fragment.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('refuses the fragment response mode, answering in the query', async () => {
    const browser = new CookieBrowser(server.url);
    const response = await browser.get(
      `/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code', redirect_uri: redirectUri, state: 'frag', response_mode: 'fragment' })}`,
    );
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirectUri);
    expect(location.hash).toBe('');
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'unsupported_response_mode', state: 'frag', iss: server.issuer });
  });
});
