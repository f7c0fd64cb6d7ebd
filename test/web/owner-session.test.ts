import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field, formAction, text } from '../support/browser.ts';
import { newCliStore, runCli } from '../support/cli.ts';
import { authorizeThroughPages, followable, walkAuthorization } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * One owner session per browser (README, security notes): logging out on
 * the dashboard ends the "Add to app" login too, and "Not you?" in the flow
 * ends both and starts the flow again at the login page. And the password
 * policy: at least 12 characters, not a common or breached password.
 */

type Owner = Awaited<ReturnType<TestServer['createOwner']>>;

let server: TestServer;
let partner: { id: string };

beforeAll(async () => {
  server = await startTestServer();
  partner = { id: (await server.createPartner()).partner.id };
});

afterAll(() => server?.close());

const credentials = (owner: Owner) => ({ email: owner.account.email, password: owner.password });

/** Starts "Add to app" in the browser and follows redirects to the first page it shows. */
async function startAddToApp(browser: CookieBrowser): Promise<{ page: string; location: string }> {
  let response = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code', state: 'again' })}`);
  let location = followable(response, server.url);
  for (let hops = 0; hops < 5 && [302, 303].includes(response.status); hops += 1) {
    response = await browser.get(location);
    if ([302, 303].includes(response.status)) location = followable(response, server.url);
  }
  expect(response.status).toBe(200);
  return { page: await response.text(), location };
}

/** Logs in through "Add to app" and stops at the consent page (the owner has one app, so no picker). */
async function atConsent(browser: CookieBrowser, owner: Owner): Promise<string> {
  const query = { client_id: partner.id, response_type: 'code', state: 'again' };
  const { pages } = await walkAuthorization(browser, query, credentials(owner), { stopAt: 'consent' });
  expect(pages.map((page) => page.step)).toEqual(['login', 'consent']);
  return pages[1]!.html;
}

async function dashboardLogIn(browser: CookieBrowser, owner: Owner): Promise<void> {
  const page = await (await browser.get('/login')).text();
  expect((await browser.post('/login', { _csrf: field(page, '_csrf') ?? '', ...credentials(owner) })).status).toBe(303);
}

describe('one owner session', () => {
  it('Log out on the dashboard ends the "Add to app" login: the next one asks for the password', async () => {
    const owner = await server.createOwner({ appNames: ['One', 'Two'] });
    const browser = new CookieBrowser(server.url);
    await dashboardLogIn(browser, owner);
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials(owner));
    expect(callback.searchParams.get('code')).toBeTruthy();
    // Still signed in to the engine: the next "Add to app" goes straight to the app picker.
    expect((await startAddToApp(browser)).page).toContain('type="radio"');

    const dashboard = await (await browser.get('/dashboard')).text();
    const loggedOut = await browser.post('/logout', { _csrf: field(dashboard, '_csrf') ?? '' });
    expect(loggedOut.status).toBe(303);

    const next = await startAddToApp(browser);
    expect(next.page).toContain('name="password"');
    expect(next.page).not.toContain('type="radio"');
    expect(browser.cookieNames()).not.toContain('appgrant.session');
  });

  it('the app picker and the consent page say who is signed in; "Not you?" ends the session everywhere and starts over at login', async () => {
    const owner = await server.createOwner({ appNames: ['Only'] });
    const browser = new CookieBrowser(server.url);
    await dashboardLogIn(browser, owner);
    const consent = await atConsent(browser, owner);
    expect(text(consent)).toContain(`Signed in as ${owner.account.email}`);

    const notYou = await browser.post(formAction(consent, '/not-you'), { _csrf: field(consent, '_csrf') ?? '' });
    expect(notYou.status).toBe(303);
    const restart = new URL(followable(notYou, server.url));
    expect(restart.pathname).toBe('/oauth/authorize');
    expect(restart.searchParams.get('client_id')).toBe(partner.id);
    expect(restart.searchParams.get('state')).toBe('again');

    const again = await startAddToApp(browser);
    expect(again.page).toContain('name="password"');
    // The dashboard session ended with it.
    const dashboard = await browser.get('/dashboard');
    expect(dashboard.status).toBe(303);
    expect(dashboard.headers.get('location')).toBe('/login');
    // Someone else now signs in and sees their own apps.
    const other = await server.createOwner({ appNames: ['Theirs'] });
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials(other));
    expect(callback.searchParams.get('code')).toBeTruthy();
    const approval = await server.db('authorizations').where({ partner_id: partner.id, app_id: other.apps[0]!.id }).first();
    expect(approval).toBeTruthy();
  });

  it('"Not you?" needs the form token', async () => {
    const owner = await server.createOwner({ appNames: ['Only'] });
    const browser = new CookieBrowser(server.url);
    const consent = await atConsent(browser, owner);
    expect((await browser.post(formAction(consent, '/not-you'), {})).status).toBe(403);
    expect((await startAddToApp(browser)).page).toContain('name="decision"');
  });
});

describe('the password policy', () => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const store = await newCliStore('password-policy');
    env = { ...store.env };
    cleanup = store.cleanup;
    expect((await runCli(['migrate'], env)).code).toBe(0);
  }, 300_000);

  afterAll(() => cleanup?.());

  // Each command is its own process opening the database: slow on a busy machine.
  it('account create refuses fewer than 12 characters and common or breached passwords', { timeout: 300_000 }, async () => {
    const short = await runCli(['account', 'create', '--email', 'short@example.com', '--password', 'elevenchars'], env);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/password: must be at least 12 characters/);
    for (const common of ['password1234', 'qwertyuiop123']) {
      const refused = await runCli(['account', 'create', '--email', 'common@example.com', '--password', common], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/password: is a common password, or close to one, found in lists of breached passwords/);
    }
    const accepted = await runCli(['account', 'create', '--email', 'common@example.com', '--password', 'lantern orbit meadow'], env);
    expect(accepted.code, accepted.stderr).toBe(0);
  });
});
