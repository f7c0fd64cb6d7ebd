import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CookieBrowser, field, text } from '../support/browser.ts';
import { describeInBrowser, launchChromium, logInOnPage, mainText, saveScreenshot } from '../support/chromium.ts';
import { appKey, basic, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { introspect } from '../support/flow.ts';
import { eventually } from '../support/notices.ts';
import { csrfToken, logInToDashboard, ownerCookie } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The owner dashboard and the partner portal (docs/contract.md, "Pages"): in a real browser,
 * removing an integration and creating / revoking an API key; over HTTP, the
 * CSRF guard, logout, and that one owner never reaches another's apps, keys
 * or integrations.
 */

type Owner = Awaited<ReturnType<TestServer['createOwner']>>;

/** Rows without last_used_at, which the server writes in the background whenever a credential is used. */
function withoutLastUse<T extends Record<string, unknown>>(rows: T[]): Omit<T, 'last_used_at'>[] {
  return rows.map(({ last_used_at: _ignored, ...rest }) => rest);
}

let server: TestServer;
let chromium: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [server, chromium] = await Promise.all([startTestServer(keyEncryptionEnv), launchChromium()]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await chromium?.close();
  await server?.close();
});

const credentialsOf = (owner: Owner) => ({ email: owner.account.email, password: owner.password });

async function signedInPage(owner: Owner): Promise<Page> {
  const context = await chromium!.newContext();
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await logInOnPage(page, credentialsOf(owner));
  await page.waitForURL(`${server.url}/dashboard`);
  return page;
}

function appRequest(appId: string, auth: string): Promise<Response> {
  return fetch(`${server.url}/v2/apps/${appId}`, { headers: { authorization: auth, accept: 'application/json' } });
}

describeInBrowser('the dashboard in a browser', () => {
  it('lists the apps, shows a connected integration and removes it; the partner token stops working', async () => {
    const owner = await server.createOwner({ appNames: ['Helpdesk', 'Marketing'] });
    const created = await server.createPartner();
    const partner = { id: created.partner.id, secret: created.clientSecret };
    const helpdesk = owner.apps[0]!;
    const tokens = await oauthToken(server.url, partner, credentialsOf(owner), helpdesk.id);
    const bearer = `Bearer ${tokens.access_token}`;
    expect((await appRequest(helpdesk.id, bearer)).status).toBe(200);
    // That use is recorded as the integration's last use (written in the background).
    await eventually(async () => (await server.db('authorizations').where({ partner_id: partner.id }).first())?.last_used_at, 5000, 'last_used_at');

    const page = await signedInPage(owner);
    await page.getByRole('heading', { name: 'Your apps' }).waitFor();
    const rows = page.getByRole('row');
    expect(await rows.count()).toBe(3); // header + two apps
    const helpdeskRow = page.getByRole('row', { name: /Helpdesk/ });
    expect((await helpdeskRow.getByRole('cell').allTextContents()).map((cell) => cell.trim())).toEqual([`Helpdesk ${helpdesk.id}`, '1', '0']);
    await saveScreenshot(page, 'dashboard-apps');

    await page.getByRole('link', { name: 'Helpdesk' }).click();
    await page.getByRole('heading', { name: 'Helpdesk', level: 1 }).waitFor();
    const integrations = page.getByRole('region', { name: 'Connected integrations' });
    const row = integrations.getByRole('row', { name: /Acme Integration/ });
    const cells = (await row.getByRole('cell').allTextContents()).map((cell) => cell.replace(/\s+/g, ' ').trim());
    expect(cells[0]).toBe('Acme Integration');
    expect(cells[1]).toBe('app:read message:send');
    expect(cells[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/); // approved
    expect(cells[3]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/); // last used
    await saveScreenshot(page, 'dashboard-integration');

    // Remove asks first, on a page of its own naming what will happen; the result names the target.
    await integrations.getByRole('link', { name: 'Remove Acme Integration' }).click();
    await page.getByRole('heading', { name: 'Remove Acme Integration from Helpdesk?' }).waitFor();
    expect(await mainText(page)).toContain('Acme Integration will lose access to Helpdesk now');
    expect(await server.db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at')).toHaveLength(1);
    await page.getByRole('button', { name: 'Remove Acme Integration' }).click();
    await page.getByText('Acme Integration was removed from Helpdesk. Its tokens no longer work.').waitFor();
    expect(await mainText(page)).toContain('No integration is connected to this app.');
    await saveScreenshot(page, 'dashboard-integration-removed');

    expect((await introspect(server.url, partner, tokens.access_token)).active).toBe(false);
    expect((await introspect(server.url, partner, tokens.refresh_token)).active).toBe(false);
    const refused = await appRequest(helpdesk.id, bearer);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await server.db('authorizations').where({ partner_id: partner.id }).whereNull('revoked_at')).toEqual([]);
  });

  it('creates an API key whose secret is shown once, then revokes it', async () => {
    const owner = await server.createOwner({ appNames: ['Key Shop'] });
    const app = owner.apps[0]!;
    const page = await signedInPage(owner);
    await page.getByRole('link', { name: 'Key Shop' }).click();
    await page.getByRole('heading', { name: 'Key Shop', level: 1 }).waitFor();
    expect(await mainText(page)).toContain('This app has no API keys.');

    await page.getByLabel('Name', { exact: true }).fill('Reporting key');
    await page.getByRole('checkbox', { name: /app:read$/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key "Reporting key" created. Copy it now: it will not be shown again.').waitFor();
    // Post/Redirect/Get: the page was fetched anew, and the secret has the focus.
    expect(page.url()).toBe(`${server.url}/dashboard/apps/${app.id}`);
    expect(await page.evaluate<string>('document.activeElement.value')).toBe(await page.getByLabel('Secret', { exact: true }).inputValue());
    const keyId = await page.getByLabel('Key id').inputValue();
    const secret = await page.getByLabel('Secret', { exact: true }).inputValue();
    expect(keyId).toMatch(/^\S+$/);
    expect(secret.length).toBeGreaterThanOrEqual(20);
    await saveScreenshot(page, 'dashboard-key-created');

    const stored = await server.db('api_keys').where({ id: keyId }).first();
    expect(stored).toMatchObject({ app_id: app.id, display_name: 'Reporting key', permissions: ['app:read'], revoked_at: null });
    expect(JSON.stringify(stored)).not.toContain(secret);

    // The key works for what app:read allows, and only that.
    const auth = basic({ id: keyId, secret });
    const read = await appRequest(app.id, auth);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { app: { id: string } }).app.id).toBe(app.id);
    const keys = await fetch(`${server.url}/v2/apps/${app.id}/keys`, { headers: { authorization: auth, accept: 'application/json' } });
    expect(keys.status).toBe(403);

    // Opened again, the page lists the key but no longer holds its secret.
    await page.goto(`${server.url}/dashboard/apps/${app.id}`);
    expect(await page.content()).not.toContain(secret);
    expect(await page.getByLabel('Secret', { exact: true }).count()).toBe(0);
    const keyRow = page.getByRole('region', { name: 'API keys' }).getByRole('row', { name: /Reporting key/ });
    expect(await keyRow.textContent()).toContain(keyId);
    expect(await keyRow.textContent()).toContain('app:read');
    await saveScreenshot(page, 'dashboard-key-listed');

    await keyRow.getByRole('link', { name: 'Revoke Reporting key' }).click();
    await page.getByRole('heading', { name: 'Revoke the key "Reporting key"?' }).waitFor();
    await page.getByRole('button', { name: 'Revoke "Reporting key"' }).click();
    await page.getByText(`Key "Reporting key" (${keyId}) was revoked. It no longer works.`).waitFor();
    expect(await mainText(page)).toContain('This app has no API keys.');
    const refused = await appRequest(app.id, auth);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('keeps listing the apps when a new app name is refused', async () => {
    const owner = await server.createOwner({ appNames: ['First App', 'Second App'] });
    const page = await signedInPage(owner);
    // Spaces pass the field's `required`, and are refused by the server.
    await page.getByLabel('App name').fill('   ');
    await page.getByRole('button', { name: 'Create app' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/must not be empty/);
    expect(await page.getByRole('link', { name: 'First App' }).count()).toBe(1);
    expect(await page.getByRole('link', { name: 'Second App' }).count()).toBe(1);
    expect(await mainText(page)).not.toContain('You have no apps yet');
    await saveScreenshot(page, 'dashboard-app-name-refused');
    expect(await server.db('apps').where({ account_id: owner.account.id })).toHaveLength(2);
  });

  it('logs out from the header; the dashboard then asks for a login again', async () => {
    const owner = await server.createOwner({ appNames: ['Logout App'] });
    const page = await signedInPage(owner);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${server.url}/login`);
    await page.goto(`${server.url}/dashboard`);
    expect(page.url()).toBe(`${server.url}/login`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
  });
});

describe('CSRF protection of the dashboard and portal forms', () => {
  let owner: Owner;
  let browser: CookieBrowser;
  let token: string;
  let foreignToken: string;
  let partnerId: string;
  let authorizationId: string;
  let key: { id: string; secret: string };

  beforeAll(async () => {
    owner = await server.createOwner({ appNames: ['Guarded'] });
    ({ browser } = await logInToDashboard(server.url, credentialsOf(owner)));
    token = await csrfToken(browser);
    // Another browser (signed in as someone else) has its own, valid, token.
    const other = await server.createOwner({ appNames: ['Elsewhere'] });
    foreignToken = await csrfToken((await logInToDashboard(server.url, credentialsOf(other))).browser);
    expect(foreignToken).not.toBe(token);

    const created = await server.createPartner({ accountId: owner.account.id, approved: false });
    partnerId = created.partner.id;
    await oauthToken(server.url, { id: partnerId, secret: created.clientSecret }, credentialsOf(owner), owner.apps[0]!.id);
    authorizationId = (await server.db('authorizations').where({ partner_id: partnerId }).first()).id;
    key = await appKey(server.db, owner.apps[0]!, { displayName: 'Guarded key' });
  });

  async function snapshot() {
    return {
      apps: await server.db('apps').where({ account_id: owner.account.id }).orderBy('id'),
      keys: withoutLastUse(await server.db('api_keys').where({ app_id: owner.apps[0]!.id }).orderBy('id')),
      authorizations: withoutLastUse(await server.db('authorizations').where({ app_id: owner.apps[0]!.id }).orderBy('id')),
      partners: await server.db('partners').where({ account_id: owner.account.id }).orderBy('id'),
      sessions: await server.db('web_sessions').where({ account_id: owner.account.id }).count({ n: '*' }),
    };
  }

  const forms = (): { path: string; fields: Record<string, string> }[] => [
    { path: '/dashboard/apps', fields: { name: 'Forged app' } },
    { path: `/dashboard/apps/${owner.apps[0]!.id}/keys`, fields: { name: 'Forged key', permissions: 'app:read' } },
    { path: `/dashboard/apps/${owner.apps[0]!.id}/keys/${key.id}/revoke`, fields: {} },
    { path: `/dashboard/apps/${owner.apps[0]!.id}/integrations/${authorizationId}/remove`, fields: {} },
    {
      path: '/partners',
      fields: { name: 'Forged integration', redirectUris: 'https://evil.example/cb', permissions: 'app:read' },
    },
    { path: `/partners/${partnerId}/redirect-uris`, fields: { redirectUris: 'https://evil.example/cb' } },
    { path: `/partners/${partnerId}/rotate-secret`, fields: {} },
    { path: '/logout', fields: {} },
  ];

  for (const variant of ['without a token', 'with a token from another browser', 'with a tampered token'] as const) {
    it(`refuses every form ${variant} with 403 and changes nothing`, async () => {
      const before = await snapshot();
      const submitted = variant === 'without a token' ? undefined : variant === 'with a tampered token' ? `${token.slice(0, -2)}AA` : foreignToken;
      for (const form of forms()) {
        const response = await browser.post(form.path, { ...form.fields, ...(submitted ? { _csrf: submitted } : {}) });
        const page = await response.text();
        expect(response.status, `${form.path} ${variant}`).toBe(403);
        expect(text(page)).toContain('This form has expired');
        expect(response.headers.get('location')).toBeNull();
      }
      expect(await snapshot()).toEqual(before);
      // Still signed in, and the key and the integration still work.
      expect((await browser.get('/dashboard')).status).toBe(200);
      expect((await appRequest(owner.apps[0]!.id, basic(key))).status).toBe(200);
    });
  }

  it('refuses a JSON body carrying the token from another browser, and a login without a token', async () => {
    const before = await snapshot();
    const json = await browser.request('/dashboard/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Forged by JSON', _csrf: foreignToken }),
    });
    expect(json.status).toBe(403);
    const login = await new CookieBrowser(server.url).post('/login', { email: owner.account.email, password: owner.password });
    expect(login.status).toBe(403);
    expect(login.headers.getSetCookie().some((cookie) => cookie.startsWith(`${ownerCookie}=`))).toBe(false);
    expect(await snapshot()).toEqual(before);
  });

  it('accepts the same forms with this browser\'s own token', async () => {
    const response = await browser.post('/dashboard/apps', { _csrf: token, name: 'Legit app' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/dashboard\/apps\//);
    expect(await server.db('apps').where({ account_id: owner.account.id, display_name: 'Legit app' })).toHaveLength(1);
  });
});

describe('logout', () => {
  it('ends the session on the server: the dashboard redirects to /login and the old cookie is dead', async () => {
    const owner = await server.createOwner({ appNames: ['Session App'] });
    const { browser, sessionCookie } = await logInToDashboard(server.url, credentialsOf(owner));
    const withOldCookie = (path: string) => fetch(`${server.url}${path}`, { headers: { cookie: `${ownerCookie}=${sessionCookie}` }, redirect: 'manual' });
    expect((await withOldCookie('/dashboard')).status).toBe(200);
    expect(await server.db('web_sessions').where({ account_id: owner.account.id })).toHaveLength(1);

    const loginResponse = await new CookieBrowser(server.url).get('/login');
    expect(loginResponse.status).toBe(200);
    const dashboard = await (await browser.get('/dashboard')).text();
    const logout = await browser.post('/logout', { _csrf: field(dashboard, '_csrf')! });
    expect(logout.status).toBe(303);
    expect(logout.headers.get('location')).toBe('/login');
    expect(logout.headers.getSetCookie().some((cookie) => cookie.startsWith(`${ownerCookie}=;`))).toBe(true);
    expect(browser.cookieNames()).not.toContain(ownerCookie);

    for (const path of ['/dashboard', `/dashboard/apps/${owner.apps[0]!.id}`, '/partners']) {
      const response = await browser.get(path);
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
      const replayed = await withOldCookie(path);
      expect(replayed.status, `${path} with the old cookie`).toBe(303);
      expect(replayed.headers.get('location')).toBe('/login');
    }
    expect(await server.db('web_sessions').where({ account_id: owner.account.id })).toEqual([]);
  });

  it('sets the session cookie HttpOnly and SameSite=Lax, and frames no dashboard page', async () => {
    const owner = await server.createOwner({ appNames: ['Cookie App'] });
    const browser = new CookieBrowser(server.url);
    const page = await (await browser.get('/login')).text();
    const response = await browser.post('/login', { _csrf: field(page, '_csrf')!, email: owner.account.email, password: owner.password });
    const cookie = response.headers.getSetCookie().find((line) => line.startsWith(`${ownerCookie}=`))!;
    expect(cookie).toMatch(/;\s*httponly/i);
    expect(cookie).toMatch(/;\s*samesite=lax/i);
    for (const path of ['/dashboard', `/dashboard/apps/${owner.apps[0]!.id}`, '/partners']) {
      const headers = (await browser.get(path)).headers;
      expect(headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
    }
  });
});

describe('one owner never reaches another owner\'s things', () => {
  let alice: Owner;
  let bob: Owner;
  let aliceWeb: CookieBrowser;
  let aliceToken: string;
  let bobPartner: { id: string; secret: string };
  let bobAuthorizationId: string;
  let bobToken: string;
  let bobKey: { id: string; secret: string };

  beforeAll(async () => {
    alice = await server.createOwner({ appNames: ['Alice Only'] });
    bob = await server.createOwner({ appNames: ['Bob Secret App'] });
    ({ browser: aliceWeb } = await logInToDashboard(server.url, credentialsOf(alice)));
    aliceToken = await csrfToken(aliceWeb);

    const created = await server.createPartner({ accountId: bob.account.id, approved: false });
    bobPartner = { id: created.partner.id, secret: created.clientSecret };
    bobToken = (await oauthToken(server.url, bobPartner, credentialsOf(bob), bob.apps[0]!.id)).access_token;
    bobAuthorizationId = (await server.db('authorizations').where({ partner_id: bobPartner.id }).first()).id;
    bobKey = await appKey(server.db, bob.apps[0]!, { displayName: 'Bob key' });
  });

  async function bobsThings() {
    return {
      apps: await server.db('apps').where({ account_id: bob.account.id }).orderBy('id'),
      keys: withoutLastUse(await server.db('api_keys').where({ app_id: bob.apps[0]!.id }).orderBy('id')),
      authorizations: withoutLastUse(await server.db('authorizations').where({ app_id: bob.apps[0]!.id }).orderBy('id')),
      partner: await server.db('partners').where({ id: bobPartner.id }).first(),
    };
  }

  async function expectBobUntouched(before: Awaited<ReturnType<typeof bobsThings>>) {
    expect(await bobsThings()).toEqual(before);
    expect((await appRequest(bob.apps[0]!.id, basic(bobKey))).status).toBe(200);
    expect((await appRequest(bob.apps[0]!.id, `Bearer ${bobToken}`)).status).toBe(200);
  }

  it('lists only the owner\'s own apps and integrations', async () => {
    const dashboard = await (await aliceWeb.get('/dashboard')).text();
    expect(text(dashboard)).toContain('Alice Only');
    expect(dashboard).not.toContain('Bob Secret App');
    expect(dashboard).not.toContain(bob.apps[0]!.id);
    const portal = await (await aliceWeb.get('/partners')).text();
    expect(portal).not.toContain(bobPartner.id);
    expect(text(portal)).toContain('You have not registered an integration yet.');
  });

  it('answers 404 for another owner\'s app page and integration page', async () => {
    const app = await aliceWeb.get(`/dashboard/apps/${bob.apps[0]!.id}`);
    const appPage = await app.text();
    expect(app.status).toBe(404);
    expect(appPage).not.toContain('Bob Secret App');
    expect(appPage).not.toContain(bobKey.id);
    const partner = await aliceWeb.get(`/partners/${bobPartner.id}`);
    expect(partner.status).toBe(404);
    expect(await partner.text()).not.toContain(bobPartner.id);
    expect((await aliceWeb.get('/dashboard/apps/app_does_not_exist')).status).toBe(404);
  });

  it('answers 404 to remove, revoke and create-key on another owner\'s app, and changes nothing', async () => {
    const before = await bobsThings();
    const attempts: { path: string; fields: Record<string, string> }[] = [
      { path: `/dashboard/apps/${bob.apps[0]!.id}/integrations/${bobAuthorizationId}/remove`, fields: {} },
      { path: `/dashboard/apps/${bob.apps[0]!.id}/keys/${bobKey.id}/revoke`, fields: {} },
      { path: `/dashboard/apps/${bob.apps[0]!.id}/keys`, fields: { name: 'Planted key' } },
    ];
    for (const attempt of attempts) {
      const response = await aliceWeb.post(attempt.path, { _csrf: aliceToken, ...attempt.fields });
      expect(response.status, attempt.path).toBe(404);
    }
    await expectBobUntouched(before);
  });

  it('cannot reach another owner\'s integration or key through its own app\'s paths', async () => {
    const before = await bobsThings();
    const own = alice.apps[0]!.id;
    const remove = await aliceWeb.post(`/dashboard/apps/${own}/integrations/${bobAuthorizationId}/remove`, { _csrf: aliceToken });
    expect([303, 404]).toContain(remove.status);
    const revoke = await aliceWeb.post(`/dashboard/apps/${own}/keys/${bobKey.id}/revoke`, { _csrf: aliceToken });
    expect([303, 404]).toContain(revoke.status);
    await expectBobUntouched(before);
  });

  it('answers 404 to rotate and redirect-URL edits on another owner\'s integration, and changes nothing', async () => {
    const before = await bobsThings();
    const rotate = await aliceWeb.post(`/partners/${bobPartner.id}/rotate-secret`, { _csrf: aliceToken });
    expect(rotate.status).toBe(404);
    const rotatedPage = await rotate.text();
    expect(rotatedPage).not.toMatch(/client-secret/);
    const redirects = await aliceWeb.post(`/partners/${bobPartner.id}/redirect-uris`, { _csrf: aliceToken, redirectUris: 'https://evil.example/cb' });
    expect(redirects.status).toBe(404);
    await expectBobUntouched(before);
    // Bob's secret still authenticates at the token endpoint (400 invalid_grant for a made-up code, not 401).
    const response = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'made-up', client_id: bobPartner.id, client_secret: bobPartner.secret }),
    });
    expect(response.status).toBe(400);
  });
});
