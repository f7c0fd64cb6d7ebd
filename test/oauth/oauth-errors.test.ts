import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field, formAction, text } from '../support/browser.ts';
import { authorizeThroughPages, exchangeCode, followable, introspect, tokenBody, walkAuthorization, type OwnerCredentials } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * Every way the partner OAuth flow (docs/contract.md, "The OAuth flow") can go wrong, over real HTTP:
 * what the browser, the partner and an attacker get back. The happy paths
 * live in oauth-flow.test.ts.
 */

let server: TestServer;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };
/** A second partner with the same redirect URLs: a "foreign client" for partner's codes. */
let stranger: { id: string; secret: string };
const redirectUri = 'https://partner.example/callback';
const otherRedirectUri = 'https://partner.example/other';

beforeAll(async () => {
  server = await startTestServer();
  owner = await server.createOwner({ appNames: ['Support'] });
  const created = await server.createPartner({ redirectUris: [redirectUri, otherRedirectUri] });
  partner = { id: created.partner.id, secret: created.clientSecret };
  const other = await server.createPartner({ redirectUris: [redirectUri, otherRedirectUri] });
  stranger = { id: other.partner.id, secret: other.clientSecret };
});

afterAll(async () => {
  await server?.close();
});

const credentials = () => ({ email: owner.account.email, password: owner.password });

function authorizePath(query: Record<string, string>): string {
  return `/oauth/authorize?${new URLSearchParams(query)}`;
}

function get(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(new URL(path, server.url), { ...init, redirect: 'manual' });
}

function postToken(body: string | URLSearchParams, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request over node:http with a given agent, so a test controls which
 * connection carries it (fetch pools connections for the whole file). Fails
 * after timeoutMs instead of waiting for the test's timeout.
 */
function send(agent: Agent, method: string, path: string, headers: Record<string, string>, body?: string, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      new URL(path, server.url),
      { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no response to ${method} ${path} within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Headers every page carries (docs/contract.md, "Pages"): no framing, no caching. */
function expectPageHeaders(response: Response): void {
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('cache-control')).toBe('no-store');
}

/** An HTML error page, not a redirect: nothing sends the browser anywhere. */
async function expectErrorPage(response: Response, status: number, code?: string): Promise<string> {
  const page = await response.text();
  expect(response.status, page).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(page).not.toMatch(/http-equiv="?refresh/i);
  expectPageHeaders(response);
  if (code) expect(text(page)).toContain(`Error code: ${code}`);
  return page;
}

/** RFC 6749 §4.1.2.1 + RFC 9207: back to the registered URL, error/state/iss in the query. */
function expectErrorRedirect(response: Response, expected: { to: string; error: string; state?: string }): URLSearchParams {
  expect([302, 303]).toContain(response.status);
  const location = new URL(response.headers.get('location') ?? 'missing:');
  expect(location.origin + location.pathname).toBe(expected.to);
  const params = location.searchParams;
  expect(params.get('error'), `error in the query of ${location}`).toBe(expected.error);
  expect(params.get('state')).toBe(expected.state ?? null);
  expect(params.get('iss')).toBe(server.issuer);
  expect(params.get('code')).toBeNull();
  return params;
}

/** An RFC 6749 §5.2 error from the token endpoint. */
async function expectTokenError(response: Response, status: number, error: string): Promise<void> {
  const body = (await response.json()) as Record<string, unknown>;
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(body.error).toBe(error);
  expect(body.access_token).toBeUndefined();
}

interface Interaction {
  /** /interaction/<uid> */
  path: string;
  response: Response;
  page: string;
}

/** Starts an authorization in the browser and opens the page it lands on. */
async function openInteraction(browser: CookieBrowser, query: Record<string, string>): Promise<Interaction> {
  const start = await browser.get(authorizePath({ response_type: 'code', ...query }));
  const location = followable(start, server.url);
  expect(location.startsWith(`${server.url}/interaction/`), location).toBe(true);
  const response = await browser.get(location);
  return { path: new URL(location).pathname, response, page: await response.text() };
}

/** Logs in on a login page; returns the response to the form post. */
function logIn(browser: CookieBrowser, loginPage: string, who: OwnerCredentials): Promise<Response> {
  return browser.post(formAction(loginPage, '/login'), { _csrf: field(loginPage, '_csrf') ?? '', ...who });
}

/** Walks to the consent page of an owner with one app; returns it with the interaction path. */
async function openConsent(browser: CookieBrowser, who: OwnerCredentials, query: Record<string, string> = {}): Promise<Interaction> {
  const { pages } = await walkAuthorization(browser, { client_id: partner.id, response_type: 'code', ...query }, who, { stopAt: 'consent' });
  const consent = pages.at(-1)!;
  expect(consent.step).toBe('consent');
  return { path: new URL(consent.url).pathname, response: consent.response, page: consent.html };
}

async function freshCode(query: Record<string, string> = {}): Promise<string> {
  const callback = await authorizeThroughPages(
    new CookieBrowser(server.url),
    { client_id: partner.id, response_type: 'code', ...query },
    credentials(),
  );
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  return code!;
}

async function authorizationCount(): Promise<number> {
  const [row] = await server.db('authorizations').count<{ count: string | number }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}

describe('/oauth/authorize refuses to redirect when it cannot trust the target', () => {
  it('shows an error page for an unknown client, even with a redirect_uri', async () => {
    const response = await get(
      authorizePath({ client_id: 'ptn_doesnotexist', response_type: 'code', redirect_uri: 'https://evil.example/cb', state: 's' }),
    );
    const page = await expectErrorPage(response, 400, 'invalid_client');
    expect(page).not.toContain('evil.example');
  });

  it('shows an error page for a missing client_id', async () => {
    await expectErrorPage(await get(authorizePath({ response_type: 'code', redirect_uri: redirectUri })), 400, 'invalid_request');
  });

  // Redirect URLs are compared byte for byte (docs/contract.md, "Concepts"): every near miss is refused.
  const nearMisses = [
    ['an unregistered host', 'https://evil.example/callback'],
    ['a trailing slash', 'https://partner.example/callback/'],
    ['a different case in the path', 'https://partner.example/Callback'],
    ['an extra query parameter', 'https://partner.example/callback?next=https://evil.example'],
    ['http instead of https', 'http://partner.example/callback'],
    ['an explicit default port', 'https://partner.example:443/callback'],
    ['a longer host', 'https://partner.example.evil.example/callback'],
    ['user info before the host', 'https://partner.example@evil.example/callback'],
    ['a path suffix', 'https://partner.example/callback/../../evil'],
    ['a fragment', 'https://partner.example/callback#x'],
    ['a percent-encoded path', 'https://partner.example/%63allback'],
    ['a javascript: URL', 'javascript:alert(1)'],
  ] as const;

  it.each(nearMisses)('shows an error page for a redirect_uri with %s', async (_name, candidate) => {
    const response = await get(authorizePath({ client_id: partner.id, response_type: 'code', redirect_uri: candidate, state: 's' }));
    const page = await expectErrorPage(response, 400);
    expect(text(page)).toMatch(/Error code: invalid_(redirect_uri|request)/);
    expect(page).not.toContain('evil.example');
  });

  it('refuses a redirect_uri registered by another partner', async () => {
    const third = await server.createPartner({ redirectUris: ['https://third.example/callback'] });
    const response = await get(
      authorizePath({ client_id: partner.id, response_type: 'code', redirect_uri: third.partner.redirect_uris[0]!, state: 's' }),
    );
    await expectErrorPage(response, 400, 'invalid_redirect_uri');
  });
});

describe('/oauth/authorize redirects other bad parameters back to the partner', () => {
  it('unsupported response_type (token) → unsupported_response_type in the query', async () => {
    const response = await get(authorizePath({ client_id: partner.id, response_type: 'token', redirect_uri: redirectUri, state: 'rt-1' }));
    expectErrorRedirect(response, { to: redirectUri, error: 'unsupported_response_type', state: 'rt-1' });
  });

  it('missing response_type → invalid_request', async () => {
    const response = await get(authorizePath({ client_id: partner.id, redirect_uri: redirectUri, state: 'rt-2' }));
    expectErrorRedirect(response, { to: redirectUri, error: 'invalid_request', state: 'rt-2' });
  });

  it('a scope outside the catalog → invalid_scope', async () => {
    const response = await get(authorizePath({ client_id: partner.id, response_type: 'code', scope: 'admin:everything', state: 'sc-1' }));
    expectErrorRedirect(response, { to: redirectUri, error: 'invalid_scope', state: 'sc-1' });
  });

  it('one unknown scope among known ones → invalid_scope', async () => {
    const response = await get(
      authorizePath({ client_id: partner.id, response_type: 'code', scope: 'app:read admin:everything', state: 'sc-2' }),
    );
    expectErrorRedirect(response, { to: redirectUri, error: 'invalid_scope', state: 'sc-2' });
  });

  it('a catalog scope the partner did not register → invalid_scope', async () => {
    const narrow = await server.createPartner({ redirectUris: ['https://narrow.example/cb'], permissions: ['app:read'] });
    const response = await get(authorizePath({ client_id: narrow.partner.id, response_type: 'code', scope: 'message:send', state: 'sc-3' }));
    expectErrorRedirect(response, { to: 'https://narrow.example/cb', error: 'invalid_scope', state: 'sc-3' });
  });

  it('PKCE method plain → invalid_request, to the redirect_uri that was sent', async () => {
    const response = await get(
      authorizePath({
        client_id: partner.id,
        response_type: 'code',
        redirect_uri: otherRedirectUri,
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'plain',
        state: 'pk-1',
      }),
    );
    expectErrorRedirect(response, { to: otherRedirectUri, error: 'invalid_request', state: 'pk-1' });
  });

  it('leaves state out of the error redirect when none was sent', async () => {
    const response = await get(authorizePath({ client_id: partner.id, response_type: 'code', scope: 'admin:everything' }));
    expectErrorRedirect(response, { to: redirectUri, error: 'invalid_scope' });
  });
});

describe('/oauth/token failures', () => {
  it('wrong secret with client_secret_basic → 401 invalid_client with WWW-Authenticate', async () => {
    const response = await exchangeCode(server.url, { id: partner.id, secret: 'wrong-secret' }, { code: 'whatever' });
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
    await expectTokenError(response, 401, 'invalid_client');
  });

  it('wrong secret with client_secret_post → 401 invalid_client', async () => {
    const response = await postToken(
      new URLSearchParams({ grant_type: 'authorization_code', code: 'whatever', client_id: partner.id, client_secret: 'wrong-secret' }),
    );
    await expectTokenError(response, 401, 'invalid_client');
  });

  it('wrong secret in a JSON body → 401 invalid_client', async () => {
    const response = await postToken(
      JSON.stringify({ grant_type: 'authorization_code', code: 'whatever', client_id: partner.id, client_secret: 'wrong-secret' }),
      { 'content-type': 'application/json' },
    );
    await expectTokenError(response, 401, 'invalid_client');
  });

  it('a valid code with a wrong secret gets no token', async () => {
    const code = await freshCode();
    await expectTokenError(await exchangeCode(server.url, { id: partner.id, secret: `${partner.secret}x` }, { code }), 401, 'invalid_client');
  });

  it('unknown client, basic and post → 401 invalid_client', async () => {
    await expectTokenError(await exchangeCode(server.url, { id: 'ptn_nobody', secret: 'x' }, { code: 'whatever' }), 401, 'invalid_client');
    const post = await postToken(new URLSearchParams({ grant_type: 'authorization_code', code: 'whatever', client_id: 'ptn_nobody', client_secret: 'x' }));
    await expectTokenError(post, 401, 'invalid_client');
  });

  it('a code presented by another (registered) partner → invalid_grant', async () => {
    const code = await freshCode({ redirect_uri: redirectUri });
    await expectTokenError(await exchangeCode(server.url, stranger, { code, redirect_uri: redirectUri }), 400, 'invalid_grant');
  });

  it('a code exchanged with a different registered redirect_uri → invalid_grant', async () => {
    const code = await freshCode({ redirect_uri: redirectUri });
    await expectTokenError(await exchangeCode(server.url, partner, { code, redirect_uri: otherRedirectUri }), 400, 'invalid_grant');
  });

  it('a code authorized with an explicit redirect_uri needs it at the exchange', async () => {
    // Omitted, the server would fill in the first registered URL, which is not the one sent.
    const code = await freshCode({ redirect_uri: otherRedirectUri });
    await expectTokenError(await exchangeCode(server.url, partner, { code }), 400, 'invalid_grant');
  });

  it('a made-up code → invalid_grant', async () => {
    await expectTokenError(await exchangeCode(server.url, partner, { code: 'not-a-real-code' }), 400, 'invalid_grant');
  });

  it('a PKCE code exchanged without its verifier → invalid_grant', async () => {
    const code = await freshCode({ code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    await expectTokenError(await exchangeCode(server.url, partner, { code }), 400, 'invalid_grant');
  });

  it('missing code → invalid_request', async () => {
    await expectTokenError(await exchangeCode(server.url, partner, {}), 400, 'invalid_request');
  });

  it('missing grant_type → invalid_request', async () => {
    await expectTokenError(await postToken('code=x', { authorization: basicAuth(partner.id, partner.secret) }), 400, 'invalid_request');
  });

  it.each(['password', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code', 'nonsense'])(
    'grant_type=%s → unsupported_grant_type',
    async (grantType) => {
      const response = await postToken(new URLSearchParams({ grant_type: grantType, username: 'a', password: 'b' }), {
        authorization: basicAuth(partner.id, partner.secret),
      });
      await expectTokenError(response, 400, 'unsupported_grant_type');
    },
  );

  const badJson = [
    ['malformed JSON', '{"grant_type": "authorization_code",'],
    ['a JSON array', '[["grant_type", "authorization_code"]]'],
    ['a JSON string', '"grant_type=authorization_code"'],
    ['JSON null', 'null'],
    ['an empty JSON body', ''],
    ['a nested object', JSON.stringify({ grant_type: 'authorization_code', code: { $ne: null } })],
    ['an array value', JSON.stringify({ grant_type: ['authorization_code'], code: 'x' })],
  ] as const;

  it.each(badJson)('%s → 400 invalid_request JSON', async (_name, body) => {
    const response = await postToken(body, { 'content-type': 'application/json', authorization: basicAuth(partner.id, partner.secret) });
    await expectTokenError(response, 400, 'invalid_request');
  });

  // Sent over node:http on their own connections: see the keep-alive test below for why.
  it.each([
    ['form', 'application/x-www-form-urlencoded', `grant_type=authorization_code&code=${'x'.repeat(100_000)}`],
    ['JSON', 'application/json', JSON.stringify({ grant_type: 'authorization_code', code: 'x'.repeat(100_000) })],
    ['form, 1 MB', 'application/x-www-form-urlencoded', `grant_type=authorization_code&pad=${'x'.repeat(1_000_000)}`],
    ['JSON, 1 MB', 'application/json', JSON.stringify({ grant_type: 'authorization_code', pad: 'x'.repeat(1_000_000) })],
  ])('a %s body over 60 KB → 4xx JSON, not 5xx', async (_name, contentType, body) => {
    const agent = new Agent({ keepAlive: false });
    try {
      const response = await send(agent, 'POST', '/oauth/token', { 'content-type': contentType, authorization: basicAuth(partner.id, partner.secret) }, body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(typeof (JSON.parse(response.body) as Record<string, unknown>).error).toBe('string');
      expect(response.headers['cache-control']).toBe('no-store');
    } finally {
      agent.destroy();
    }
  });

  it.each([
    ['form', 'application/x-www-form-urlencoded', `grant_type=authorization_code&pad=${'x'.repeat(1_000_000)}`],
    ['JSON', 'application/json', JSON.stringify({ grant_type: 'authorization_code', pad: 'x'.repeat(1_000_000) })],
  ])('after refusing an oversized %s body, the kept-alive connection still answers (or was closed)', async (_name, contentType, body) => {
    // A partner's HTTP client pools connections: one refused request must not
    // break the next ones sent on the same connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await send(agent, 'POST', '/oauth/token', { 'content-type': contentType }, body);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      for (let next = 0; next < 2; next += 1) {
        const health = await send(agent, 'GET', '/healthz', {});
        expect(health.status).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });
});

describe('expiry', () => {
  let shortLived: TestServer;
  let brief: TestServer;

  beforeAll(async () => {
    [shortLived, brief] = await Promise.all([
      startTestServer({ AUTHORIZATION_CODE_TTL: '1' }),
      startTestServer({ INTERACTION_TTL: '2' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([shortLived?.close(), brief?.close()]);
  });

  it('an authorization code past its TTL is refused with invalid_grant', async () => {
    const someone = await shortLived.createOwner();
    const created = await shortLived.createPartner();
    const client = { id: created.partner.id, secret: created.clientSecret };
    const callback = await authorizeThroughPages(
      new CookieBrowser(shortLived.url),
      { client_id: client.id, response_type: 'code' },
      { email: someone.account.email, password: someone.password },
    );
    const code = callback.searchParams.get('code')!;
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const response = await exchangeCode(shortLived.url, client, { code });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(400);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body.error).toBe('invalid_grant');
    expect(body.access_token).toBeUndefined();
  });

  it('an interaction past its TTL refuses the login form with an error page, not a session', async () => {
    const someone = await brief.createOwner();
    const created = await brief.createPartner();
    const browser = new CookieBrowser(brief.url);
    const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: created.partner.id, response_type: 'code' })}`);
    const login = await (await browser.get(followable(start, brief.url))).text();
    expect(login).toContain('name="password"');
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    const response = await logIn(browser, login, { email: someone.account.email, password: someone.password });
    const page = await response.text();
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(text(page)).toContain('This sign-in has ended');
    expect(browser.cookieNames()).not.toContain('appgrant.session');
  });
});

describe('CSRF on the interaction forms', () => {
  it('refuses a login post without _csrf, and the interaction stays at login', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const response = await browser.post(formAction(login.page, '/login'), credentials());
    await expectErrorPage(response, 403);
    expect(browser.cookieNames()).not.toContain('appgrant.session');
    const again = await browser.get(login.path);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="password"');
  });

  it("refuses a login post carrying another browser's token", async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const attacker = new CookieBrowser(server.url);
    const attackerToken = field((await openInteraction(attacker, { client_id: partner.id })).page, '_csrf');
    expect(attackerToken).toBeTruthy();
    expect(attackerToken).not.toBe(field(login.page, '_csrf'));
    const response = await browser.post(formAction(login.page, '/login'), { _csrf: attackerToken!, ...credentials() });
    await expectErrorPage(response, 403);
    expect(browser.cookieNames()).not.toContain('appgrant.session');
    const again = await browser.get(login.path);
    expect(await again.text()).toContain('name="password"');
  });

  it('refuses a login post with an empty or garbage token', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    for (const token of ['', 'x', `${field(login.page, '_csrf')}x`]) {
      await expectErrorPage(await browser.post(formAction(login.page, '/login'), { _csrf: token, ...credentials() }), 403);
    }
    expect(browser.cookieNames()).not.toContain('appgrant.session');
  });

  it('refuses a consent post without _csrf: no authorization, no code, still at consent', async () => {
    const browser = new CookieBrowser(server.url);
    const consent = await openConsent(browser, credentials());
    const before = await authorizationCount();
    const response = await browser.post(formAction(consent.page, '/consent'), { app: field(consent.page, 'app')!, decision: 'allow' });
    await expectErrorPage(response, 403);
    expect(await authorizationCount()).toBe(before);
    const again = await browser.get(consent.path);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('name="decision"');
  });

  it("refuses a consent post carrying another browser's token", async () => {
    const browser = new CookieBrowser(server.url);
    const consent = await openConsent(browser, credentials());
    const attacker = new CookieBrowser(server.url);
    const attackerToken = field((await openInteraction(attacker, { client_id: partner.id })).page, '_csrf')!;
    const before = await authorizationCount();
    const response = await browser.post(formAction(consent.page, '/consent'), {
      _csrf: attackerToken,
      app: field(consent.page, 'app')!,
      decision: 'allow',
    });
    await expectErrorPage(response, 403);
    expect(await authorizationCount()).toBe(before);
    expect(await (await browser.get(consent.path)).text()).toContain('name="decision"');
  });

  it('refuses a cancel (abort) post without _csrf', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const uid = login.path.split('/').pop()!;
    await expectErrorPage(await browser.post(`/interaction/${uid}/abort`, {}), 403);
  });
});

describe('login failures', () => {
  it('gives the same status and message for a wrong password and an unknown email', async () => {
    const first = new CookieBrowser(server.url);
    const wrongPassword = await logIn(first, (await openInteraction(first, { client_id: partner.id })).page, {
      email: owner.account.email,
      password: 'not the password at all',
    });
    const second = new CookieBrowser(server.url);
    const unknownEmail = await logIn(second, (await openInteraction(second, { client_id: partner.id })).page, {
      email: `nobody-${Date.now()}@example.com`,
      password: 'not the password at all',
    });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(wrongPassword.status);
    expect(wrongPassword.headers.get('location')).toBeNull();
    expectPageHeaders(wrongPassword);
    const message = (page: string) => /role="alert"[^>]*>([^<]*)</.exec(page)?.[1];
    const [wrongPage, unknownPage] = [await wrongPassword.text(), await unknownEmail.text()];
    expect(message(wrongPage)).toBe('The email or password is incorrect.');
    expect(message(unknownPage)).toBe(message(wrongPage));
    // The whole visible page matches too: nothing (but the echoed email field's value) tells them apart.
    expect(text(unknownPage)).toBe(text(wrongPage));
    expect(first.cookieNames()).not.toContain('appgrant.session');
  });

  it('refuses an empty email or password without a session', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const response = await logIn(browser, login.page, { email: owner.account.email, password: '' });
    expect(response.status).toBe(401);
    expect(browser.cookieNames()).not.toContain('appgrant.session');
  });
});

describe('login throttling', () => {
  let throttled: TestServer;
  let perIp: TestServer;

  beforeAll(async () => {
    [throttled, perIp] = await Promise.all([
      startTestServer({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' }),
      startTestServer({ LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([throttled?.close(), perIp?.close()]);
  });

  async function attempt(target: TestServer, clientId: string, who: OwnerCredentials): Promise<{ response: Response; page: string; browser: CookieBrowser; path: string }> {
    const browser = new CookieBrowser(target.url);
    const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code' })}`);
    const location = followable(start, target.url);
    const login = await (await browser.get(location)).text();
    const response = await logIn(browser, login, who);
    return { response, page: await response.text(), browser, path: new URL(location).pathname };
  }

  async function expectThrottled(result: { response: Response; page: string; browser: CookieBrowser; path: string }): Promise<void> {
    const { response, page, browser } = result;
    expect(response.status, text(page)).toBe(429);
    const retryAfter = response.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    const seconds = Number(retryAfter);
    expect(seconds).toBeGreaterThan(0);
    expectPageHeaders(response);
    // The page says when to retry, in the same number of seconds as the header.
    expect(text(page)).toMatch(new RegExp(`Try again in ${seconds} seconds?`));
    expect(browser.cookieNames()).not.toContain('appgrant.session');
    // Still at the login step: nothing was logged in.
    expect(await (await browser.get(result.path)).text()).toContain('name="password"');
  }

  it('after the per-account limit, even the right password gets 429 with Retry-After', async () => {
    const victim = await throttled.createOwner();
    const created = await throttled.createPartner();
    const who = { email: victim.account.email, password: victim.password };
    for (let failure = 0; failure < 3; failure += 1) {
      const { response } = await attempt(throttled, created.partner.id, { ...who, password: `wrong password ${failure}` });
      expect(response.status).toBe(401);
    }
    await expectThrottled(await attempt(throttled, created.partner.id, who));
    // The same account under another spelling of its email is the same subject.
    await expectThrottled(await attempt(throttled, created.partner.id, { ...who, email: ` ${who.email.toUpperCase()} ` }));
  });

  it('throttles an email that has no account the same way', async () => {
    const created = await throttled.createPartner();
    const who = { email: `ghost-${Date.now()}@example.com`, password: 'whatever it is' };
    for (let failure = 0; failure < 3; failure += 1) {
      expect((await attempt(throttled, created.partner.id, who)).response.status).toBe(401);
    }
    await expectThrottled(await attempt(throttled, created.partner.id, who));
  });

  it('throttles per client IP across different emails', async () => {
    const created = await perIp.createPartner();
    const legit = await perIp.createOwner();
    for (let failure = 0; failure < 3; failure += 1) {
      const { response } = await attempt(perIp, created.partner.id, { email: `guess${failure}@example.com`, password: 'a wrong guess' });
      expect(response.status).toBe(401);
    }
    // A fresh email, the right password: the address is what is blocked.
    await expectThrottled(await attempt(perIp, created.partner.id, { email: legit.account.email, password: legit.password }));
  });
});

describe('page headers and cookies', () => {
  it('every page of the flow forbids framing and caching', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    expectPageHeaders(login.response);
    const consent = await openConsent(new CookieBrowser(server.url), credentials());
    expectPageHeaders(consent.response);
    expectPageHeaders(await get(authorizePath({ client_id: 'ptn_nobody', response_type: 'code' })));
    expectPageHeaders(await get('/interaction/not-a-real-interaction'));
    expectPageHeaders(await get('/no/such/page', { headers: { accept: 'text/html' } }));
    const csrfFailure = await browser.post(formAction(login.page, '/login'), credentials());
    expect(csrfFailure.status).toBe(403);
    expectPageHeaders(csrfFailure);
  });

  it('the app picker page forbids framing and caching', async () => {
    const many = await server.createOwner({ appNames: ['One', 'Two'] });
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const loggedIn = await logIn(browser, login.page, { email: many.account.email, password: many.password });
    const resumed = await browser.get(followable(loggedIn, server.url));
    const picker = await browser.get(followable(resumed, server.url));
    expect(await picker.text()).toContain('type="radio"');
    expectPageHeaders(picker);
  });

  it('error redirects to the partner are not cached either', async () => {
    const response = await get(authorizePath({ client_id: partner.id, response_type: 'code', scope: 'admin:everything' }));
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('session, interaction and CSRF cookies are HttpOnly and SameSite=Lax', async () => {
    const browser = new CookieBrowser(server.url);
    const lines: string[] = [];
    const record = (response: Response) => {
      lines.push(...response.headers.getSetCookie());
      return response;
    };
    const start = record(await browser.get(authorizePath({ client_id: partner.id, response_type: 'code' })));
    const loginResponse = record(await browser.get(followable(start, server.url)));
    const loggedIn = record(await logIn(browser, await loginResponse.text(), credentials()));
    record(await browser.get(followable(loggedIn, server.url)));

    const names = lines.map((line) => line.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['appgrant.interaction', 'appgrant.session', 'appgrant.csrf']));
    for (const line of lines) {
      const attributes = line.split(';').slice(1).map((attribute) => attribute.trim().toLowerCase());
      expect(attributes, line).toContain('httponly');
      expect(attributes, line).toContain('samesite=lax');
    }
  });
});

describe('consent for an app the owner does not own', () => {
  it('is refused with an error page, no authorization and no code', async () => {
    const other = await server.createOwner({ appNames: ['Not Yours'] });
    const foreignApp = other.apps[0]!;
    const browser = new CookieBrowser(server.url);
    const consent = await openConsent(browser, credentials(), { state: 'foreign' });
    const before = await authorizationCount();
    const response = await browser.post(formAction(consent.page, '/consent'), {
      _csrf: field(consent.page, '_csrf')!,
      app: foreignApp.id,
      decision: 'allow',
    });
    const page = await expectErrorPage(response, 400);
    expect(page).not.toContain('code=');
    expect(await authorizationCount()).toBe(before);
    expect(await server.db('authorizations').where({ app_id: foreignApp.id })).toHaveLength(0);
    // Nor can resuming the authorization produce a code now.
    const resume = await browser.get(`/oauth/authorize/${consent.path.split('/').pop()}`);
    expect(resume.headers.get('location') ?? '').not.toContain('code=');
  });

  it('is refused for a made-up app id or a missing decision', async () => {
    const browser = new CookieBrowser(server.url);
    const consent = await openConsent(browser, credentials());
    const before = await authorizationCount();
    const csrf = field(consent.page, '_csrf')!;
    await expectErrorPage(await browser.post(formAction(consent.page, '/consent'), { _csrf: csrf, app: 'app_nope', decision: 'allow' }), 400);
    await expectErrorPage(await browser.post(formAction(consent.page, '/consent'), { _csrf: csrf, app: owner.apps[0]!.id }), 400);
    await expectErrorPage(
      await browser.post(formAction(consent.page, '/consent'), { _csrf: csrf, app: owner.apps[0]!.id, decision: 'yes please' }),
      400,
    );
    expect(await authorizationCount()).toBe(before);
  });

  it("cannot post to another browser's interaction with one's own session", async () => {
    // The victim's interaction uid leaks (e.g. a shared link); the attacker's cookies do not match it.
    const victim = new CookieBrowser(server.url);
    const victimLogin = await openInteraction(victim, { client_id: partner.id });
    const attacker = new CookieBrowser(server.url);
    const attackerConsent = await openConsent(attacker, credentials());
    const before = await authorizationCount();
    const response = await attacker.post(`${victimLogin.path}/consent`, {
      _csrf: field(attackerConsent.page, '_csrf')!,
      app: owner.apps[0]!.id,
      decision: 'allow',
    });
    await expectErrorPage(response, 400);
    expect(await authorizationCount()).toBe(before);
  });

  it('is re-posted after the code was issued (back button): refused, no second authorization', async () => {
    const browser = new CookieBrowser(server.url);
    const consent = await openConsent(browser, credentials(), { state: 'twice' });
    const form = { _csrf: field(consent.page, '_csrf')!, app: field(consent.page, 'app')!, decision: 'allow' };
    const allowed = await browser.post(formAction(consent.page, '/consent'), form);
    const callback = new URL(followable(await browser.get(followable(allowed, server.url)), server.url));
    const tokens = await tokenBody(await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! }));
    const live = await server.db('authorizations').where({ partner_id: partner.id, app_id: owner.apps[0]!.id }).whereNull('revoked_at');
    expect(live).toHaveLength(1);

    await expectErrorPage(await browser.post(formAction(consent.page, '/consent'), form), 400);
    const after = await server.db('authorizations').where({ partner_id: partner.id, app_id: owner.apps[0]!.id }).whereNull('revoked_at');
    expect(after.map((row) => row.id)).toEqual(live.map((row) => row.id));
    expect(after[0]!.grant_id).toBe(live[0]!.grant_id);
    expect((await introspect(server.url, partner, tokens.access_token)).active).toBe(true);
  });
});

describe('owners with nothing to connect', () => {
  async function afterLogin(browser: CookieBrowser, who: OwnerCredentials, clientId: string, state: string): Promise<string> {
    const login = await openInteraction(browser, { client_id: clientId, state });
    const loggedIn = await logIn(browser, login.page, who);
    const resumed = await browser.get(followable(loggedIn, server.url));
    const response = await browser.get(followable(resumed, server.url));
    expect(response.status).toBe(200);
    expectPageHeaders(response);
    return response.text();
  }

  it('an owner with no app sees no consent; cancelling sends access_denied with state and iss', async () => {
    const empty = await server.createOwner({ appNames: [] });
    const browser = new CookieBrowser(server.url);
    const page = await afterLogin(browser, { email: empty.account.email, password: empty.password }, partner.id, 'no-apps');
    expect(page).not.toContain('name="decision"');
    expect(text(page)).toContain('No app to connect');
    const cancelled = await browser.post(formAction(page, '/abort'), { _csrf: field(page, '_csrf')! });
    const back = await browser.get(followable(cancelled, server.url));
    expectErrorRedirect(back, { to: redirectUri, error: 'access_denied', state: 'no-apps' });
    expect(await server.db('authorizations').where({ account_id: empty.account.id })).toHaveLength(0);
  });

  it("an unapproved partner cannot be allowed on another account's app, even with a forged consent post", async () => {
    const unapproved = await server.createPartner({ approved: false });
    const browser = new CookieBrowser(server.url);
    const page = await afterLogin(browser, credentials(), unapproved.partner.id, 'unapproved');
    expect(page).not.toContain('name="decision"');
    // The interaction is at the consent step: post the form the page did not offer.
    const uid = new URL(formAction(page, '/abort'), server.url).pathname.split('/')[2];
    const forged = await browser.post(`/interaction/${uid}/consent`, {
      _csrf: field(page, '_csrf')!,
      app: owner.apps[0]!.id,
      decision: 'allow',
    });
    await expectErrorPage(forged, 400);
    expect(await server.db('authorizations').where({ partner_id: unapproved.partner.id })).toHaveLength(0);
  });
});

describe('a hostile round: malformed requests never cause a 5xx or a stack trace', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const json = { 'content-type': 'application/json' };
  const multipart = (fields: Record<string, string>) => {
    const data = new FormData();
    for (const [name, value] of Object.entries(fields)) data.set(name, value);
    return data;
  };
  const longQuery = () => Array.from({ length: 500 }, (_, index) => `p${index}=${'v'.repeat(10)}`).join('&');

  type Case = [name: string, build: () => [path: string, init?: RequestInit]];
  const cases: Case[] = [
    ['PUT /oauth/token', () => ['/oauth/token', { method: 'PUT' }]],
    ['DELETE /oauth/token', () => ['/oauth/token', { method: 'DELETE' }]],
    ['PATCH /oauth/token', () => ['/oauth/token', { method: 'PATCH', headers: json, body: '{}' }]],
    ['OPTIONS /oauth/token', () => ['/oauth/token', { method: 'OPTIONS' }]],
    ['GET /oauth/token', () => ['/oauth/token?grant_type=authorization_code&code=x']],
    ['POST /oauth/token as multipart', () => ['/oauth/token', { method: 'POST', body: multipart({ grant_type: 'authorization_code', code: 'x' }) }]],
    ['POST /oauth/token as text/plain', () => ['/oauth/token', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'grant_type=authorization_code' }]],
    ['POST /oauth/token with a __proto__ key', () => ['/oauth/token', { method: 'POST', headers: json, body: '{"__proto__":{"admin":"true"},"grant_type":"authorization_code"}' }]],
    ['POST /oauth/token with Basic and no colon', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth('justanid') }, body: 'grant_type=authorization_code&code=x' }]],
    ['POST /oauth/token with Basic and bad base64', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: 'Basic !!!not base64***' }, body: 'grant_type=authorization_code&code=x' }]],
    ['POST /oauth/token with Basic and bad percent-encoding', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth('%ZZ:%ZZ') }, body: 'grant_type=authorization_code&code=x' }]],
    ['POST /oauth/token with Basic and a NUL client id', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth('\u0000:secret') }, body: 'grant_type=authorization_code&code=x' }]],
    ['POST /oauth/token with a NUL client_id (form)', () => ['/oauth/token', { method: 'POST', headers: form, body: 'grant_type=authorization_code&code=x&client_id=%00&client_secret=x' }]],
    ['POST /oauth/token with a NUL client_id (JSON)', () => ['/oauth/token', { method: 'POST', headers: json, body: JSON.stringify({ grant_type: 'authorization_code', code: 'x', client_id: '\u0000', client_secret: 'x' }) }]],
    ['POST /oauth/token with a NUL code', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth(partner.id, partner.secret) }, body: 'grant_type=authorization_code&code=%00' }]],
    ['POST /oauth/token with a NUL refresh_token', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth(partner.id, partner.secret) }, body: 'grant_type=refresh_token&refresh_token=%00' }]],
    ['POST /oauth/token with both Basic and client_secret_post', () => ['/oauth/token', { method: 'POST', headers: { ...form, authorization: basicAuth(partner.id, partner.secret) }, body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', client_id: partner.id, client_secret: partner.secret }).toString() }]],
    ['authorize with client_id twice', () => [`/oauth/authorize?client_id=${partner.id}&client_id=${stranger.id}&response_type=code`]],
    ['authorize with state and scope twice', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&state=a&state=b&scope=app:read&scope=message:send`]],
    ['authorize with 500 extra parameters', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&${longQuery()}`]],
    ['authorize with an 8 KB state', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&state=${'s'.repeat(8_000)}`]],
    ['authorize with a 40 KB state', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&state=${'s'.repeat(40_000)}`]],
    ['authorize with a 5 KB client_id', () => [`/oauth/authorize?client_id=${'c'.repeat(5_000)}&response_type=code`]],
    ['authorize with client_id as an array', () => [`/oauth/authorize?client_id[]=${partner.id}&response_type=code`]],
    ['authorize with a NUL client_id', () => ['/oauth/authorize?client_id=%00&response_type=code']],
    ['authorize with control characters in client_id', () => [`/oauth/authorize?client_id=${partner.id}%01%1F%7F&response_type=code`]],
    ['authorize with RTL override and emoji in client_id', () => ['/oauth/authorize?client_id=%E2%80%AE%F0%9F%98%80&response_type=code']],
    ['authorize with invalid UTF-8 in client_id', () => ['/oauth/authorize?client_id=%FF%FE%C0%AF&response_type=code']],
    ['authorize with a NUL in state', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&state=a%00b`]],
    ['authorize with a scope of only spaces', () => [`/oauth/authorize?client_id=${partner.id}&response_type=code&scope=${'%20'.repeat(100)}`]],
    ['POST /oauth/authorize', () => ['/oauth/authorize', { method: 'POST', headers: form, body: `client_id=${partner.id}&response_type=code` }]],
    ['GET /oauth/authorize/<garbage> (resume)', () => ['/oauth/authorize/not-a-uid']],
    ['GET /interaction/<garbage>', () => ['/interaction/garbage']],
    ['GET /interaction/<bad percent-encoding>', () => ['/interaction/%ZZ%00']],
    ['GET /interaction/<5 KB>', () => [`/interaction/${'x'.repeat(5_000)}`]],
    ['POST /interaction/<garbage>/login', () => ['/interaction/garbage/login', { method: 'POST', headers: form, body: '_csrf=x&email=a%40b.c&password=y' }]],
    ['POST /interaction/<garbage>/login, malformed JSON', () => ['/interaction/garbage/login', { method: 'POST', headers: json, body: '{"email":' }]],
    ['POST /interaction/<garbage>/login, 100 KB form', () => ['/interaction/garbage/login', { method: 'POST', headers: form, body: `email=${'x'.repeat(100_000)}` }]],
    ['POST /interaction/<garbage>/consent', () => ['/interaction/garbage/consent', { method: 'POST', headers: form, body: 'decision=allow&app=x' }]],
    ['POST /interaction/<garbage>/abort', () => ['/interaction/garbage/abort', { method: 'POST' }]],
    ['DELETE /oauth/authorization with a garbage Bearer', () => ['/oauth/authorization', { method: 'DELETE', headers: { authorization: 'Bearer garbage' } }]],
    ['DELETE /oauth/authorization with a 10 KB Bearer', () => ['/oauth/authorization', { method: 'DELETE', headers: { authorization: `Bearer ${'A'.repeat(10_000)}` } }]],
    ['DELETE /oauth/authorization with a Bearer of symbols', () => ['/oauth/authorization', { method: 'DELETE', headers: { authorization: 'Bearer %00<script>' } }]],
    ['DELETE /oauth/authorization with partner Basic credentials', () => ['/oauth/authorization', { method: 'DELETE', headers: { authorization: basicAuth(partner.id, partner.secret) } }]],
    ['DELETE /oauth/authorization without credentials', () => ['/oauth/authorization', { method: 'DELETE' }]],
    ['POST /oauth/introspect without authentication', () => ['/oauth/introspect', { method: 'POST', headers: form, body: 'token=x' }]],
    ['POST /oauth/introspect with bad Basic', () => ['/oauth/introspect', { method: 'POST', headers: { ...form, authorization: basicAuth('nocolon') }, body: 'token=x' }]],
    // An unknown token is a 200 {"active": false} (RFC 7662), never a 500.
    ['POST /oauth/introspect of a NUL token', () => ['/oauth/introspect', { method: 'POST', headers: { ...form, authorization: basicAuth(partner.id, partner.secret) }, body: 'token=%00' }]],
    ['POST /oauth/revoke without authentication', () => ['/oauth/revoke', { method: 'POST', headers: form, body: 'token=x' }]],
  ];

  it.each(cases)('%s', async (_name, build) => {
    const [path, init] = build();
    const response = await get(path, init);
    const body = await response.text();
    expect(response.status, `${response.status} ${body.slice(0, 300)}`).toBeLessThan(500);
    expect(body).not.toMatch(/\bat .+\.[cm]?[jt]s:\d+/);
    expect(body).not.toMatch(/\b\w*Error: /);
    expect(body).not.toContain('node_modules');
  });

  it('a login post with a NUL byte in the email is refused with a clear 400, not a 5xx', async () => {
    const browser = new CookieBrowser(server.url);
    const login = await openInteraction(browser, { client_id: partner.id });
    const response = await logIn(browser, login.page, { email: 'owner\u0000@example.com', password: 'whatever it is' });
    const page = await response.text();
    expect(response.status, text(page).slice(0, 300)).toBe(400);
    expect(text(page)).toContain('a character that is not allowed');
  });

  it('the server still serves a normal flow after the hostile round', async () => {
    const code = await freshCode();
    expect((await exchangeCode(server.url, partner, { code })).status).toBe(200);
  });
});
