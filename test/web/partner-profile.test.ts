import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import { createApp } from '../../src/apps/apps.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { CookieBrowser, field, text } from '../support/browser.ts';
import { box } from '../support/credentials.ts';
import { walkAuthorization, type OwnerCredentials } from '../support/flow.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * What a partner tells owners about itself beyond a name (description,
 * developer, privacy policy and terms), given at registration in the portal
 * and the CLI, validated, stored, and shown on the consent page.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

const profile = {
  description: 'Answers support tickets from your help desk.',
  developer: 'HelpDesk Labs Ltd',
  privacyPolicyUrl: 'https://helpdesk.example/privacy',
  termsUrl: 'https://helpdesk.example/terms',
};

function cli(args: string[]) {
  return runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, args);
}

async function registerInPortal(browser: CookieBrowser, fields: Record<string, string>): Promise<Response> {
  return submitForm(browser, '/partners', '/partners', {
    name: 'HelpDesk Pro',
    redirectUris: 'https://helpdesk.example/callback',
    permissions: 'app:read',
    ...fields,
  });
}

/** The consent page an owner with one app reaches for a partner, through the real login. */
async function consentPage(browser: CookieBrowser, clientId: string, owner: OwnerCredentials): Promise<string> {
  const { pages } = await walkAuthorization(browser, { client_id: clientId, response_type: 'code' }, owner, { stopAt: 'consent' });
  expect(pages.at(-1)?.step).toBe('consent');
  return pages.at(-1)!.html;
}

describe('partner profile at registration', () => {
  it('the CLI stores the description, developer, privacy policy and terms, and prints them', async () => {
    const created = (await cli([
      'partner', 'create', '--name', 'CLI Profile', '--redirect-uri', 'https://helpdesk.example/callback', '--permission', 'app:read',
      '--description', profile.description, '--developer', profile.developer,
      '--privacy-policy-url', profile.privacyPolicyUrl, '--terms-url', profile.termsUrl,
    ])) as Record<string, unknown>;
    expect(created).toMatchObject({
      description: profile.description,
      developer: profile.developer,
      privacy_policy_url: profile.privacyPolicyUrl,
      terms_url: profile.termsUrl,
    });
    const stored = await server.db('partners').where({ id: created.client_id }).first();
    expect(stored).toMatchObject({ description: profile.description, developer: profile.developer, privacy_policy_url: profile.privacyPolicyUrl, terms_url: profile.termsUrl });
  });

  it('the CLI refuses an http logo and a privacy policy that is not a URL, writing nothing', async () => {
    const before = await server.db('partners').count({ n: '*' }).first();
    const base = ['partner', 'create', '--name', 'Bad Profile', '--redirect-uri', 'https://helpdesk.example/callback', '--permission', 'app:read'];
    await expect(cli([...base, '--logo-url', 'http://helpdesk.example/logo.png'])).rejects.toThrow(UsageError);
    await expect(cli([...base, '--logo-url', 'http://helpdesk.example/logo.png'])).rejects.toThrow(/logoUrl: must be an https URL/);
    await expect(cli([...base, '--privacy-policy-url', 'not a url'])).rejects.toThrow(/privacyPolicyUrl: must be an http\(s\) URL/);
    await expect(cli([...base, '--description', 'x'.repeat(301)])).rejects.toThrow(/description: must be at most 300 characters/);
    expect(await server.db('partners').count({ n: '*' }).first()).toEqual(before);
  });

  it('the portal form stores the profile, and the consent page shows it with links opening a new tab', async () => {
    const developer = await server.createOwner({ appNames: ['Acme Support'] });
    const { browser } = await logInToDashboard(server.url, { email: developer.account.email, password: developer.password });
    const form = await (await browser.get('/partners')).text();
    for (const label of ['Description (optional)', 'Developer (optional)', 'Privacy policy URL (optional)', 'Terms of service URL (optional)']) {
      expect(text(form)).toContain(label);
    }
    const registered = await registerInPortal(browser, { ...profile, website: 'https://helpdesk.example/' });
    expect(registered.status).toBeLessThan(400);
    const stored = await server.db('partners').where({ account_id: developer.account.id }).first();
    expect(stored).toMatchObject({ description: profile.description, developer: profile.developer, privacy_policy_url: profile.privacyPolicyUrl, terms_url: profile.termsUrl });

    const page = await consentPage(new CookieBrowser(server.url), stored.id, { email: developer.account.email, password: developer.password });
    expect(text(page)).toContain(profile.description);
    expect(text(page)).toContain(profile.developer);
    expect(page).toMatch(/<a href="https:\/\/helpdesk.example\/privacy" target="_blank" rel="noopener noreferrer">Privacy policy/);
    expect(page).toMatch(/<a href="https:\/\/helpdesk.example\/terms" target="_blank" rel="noopener noreferrer">Terms of service/);
    expect(page).toMatch(/<a href="https:\/\/helpdesk.example\/" target="_blank" rel="noopener noreferrer">/);
  });

  it('the portal refuses an http logo with an error naming the field, keeps what was typed, and registers nothing', async () => {
    const developer = await server.createOwner({ appNames: ['Acme Support'] });
    const { browser } = await logInToDashboard(server.url, { email: developer.account.email, password: developer.password });
    const refused = await registerInPortal(browser, { ...profile, logoUrl: 'http://helpdesk.example/logo.png' });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(text(page)).toMatch(/Logo URL: must be an https URL/);
    expect(page).toContain(`value="${profile.developer}"`);
    expect(page).toContain(`value="${profile.privacyPolicyUrl}"`);
    expect(page).toContain(`>${profile.description}</textarea>`);
    expect(await server.db('partners').where({ account_id: developer.account.id })).toEqual([]);
  });

  it('a partner without a profile still gets a consent page, without empty links', async () => {
    const owner = await server.createOwner({ appNames: ['Plain App'] });
    const partner = await server.createPartner({});
    const page = await consentPage(new CookieBrowser(server.url), partner.partner.id, { email: owner.account.email, password: owner.password });
    expect(page).toContain('name="decision"');
    expect(page).not.toContain('Privacy policy');
    expect(page).not.toContain('href=""');
  });
});

describe('the flow tells who is asking before and after login', () => {
  it('an unreviewed integration is named as such on the login page and the consent page', async () => {
    const developer = await server.createOwner({ appNames: ['Own App'] });
    const pending = await server.createPartner({ approved: false, accountId: developer.account.id });
    const browser = new CookieBrowser(server.url);
    const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: pending.partner.id, response_type: 'code' })}`);
    const login = await (await browser.get(start.headers.get('location')!)).text();
    expect(text(login)).toContain('has not been reviewed by the platform yet');
    expect(login).toMatch(/action="\/interaction\/[^"]+\/abort"/);
    const consent = await consentPage(browser, pending.partner.id, { email: developer.account.email, password: developer.password });
    expect(text(consent)).toContain('Not reviewed by the platform');
    expect(text(consent)).not.toContain('Reviewed by the platform');
  });

  it('the picker preselects nothing, and a choice that is not one of the owner\'s apps shows it again with an error', async () => {
    const owner = await server.createOwner({ appNames: ['First', 'Second'] });
    const partner = await server.createPartner({});
    const browser = new CookieBrowser(server.url);
    const { email, password } = { email: owner.account.email, password: owner.password };
    // Walk to the picker: the helper picks an app only when asked for one, so stop at the picker by hand.
    const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partner.partner.id, response_type: 'code' })}`);
    const loginPath = start.headers.get('location')!;
    const login = await (await browser.get(loginPath)).text();
    let response = await browser.post(`${loginPath}/login`, { _csrf: field(login, '_csrf')!, email, password });
    let pickerPath = loginPath;
    for (let hops = 0; response.status === 303 && hops < 6; hops += 1) {
      pickerPath = new URL(response.headers.get('location')!, server.url).pathname;
      response = await browser.get(pickerPath);
    }
    const picker = await response.text();
    expect(picker).toContain('type="radio"');
    expect(picker).not.toContain('checked');
    const refused = await browser.get(`${pickerPath}?app=not-an-app`);
    expect(refused.status).toBe(400);
    const again = await refused.text();
    expect(again).toContain('<title>Error: Choose an app');
    expect(text(again)).toContain('Error: Choose one of your apps.');
    expect(again).toContain('aria-invalid="true"');
  });
});

describe('error pages say what happened and offer a way back', () => {
  it('an unknown integration: a plain sentence, the engine detail as a sentence, no raw text run together', async () => {
    const response = await fetch(`${server.url}/oauth/authorize?${new URLSearchParams({ client_id: 'ptn_nobody', response_type: 'code' })}`);
    expect(response.status).toBe(400);
    const page = text(await response.text());
    expect(page).toContain('names an integration that does not exist here');
    expect(page).toMatch(/Details: [A-Z][^.]*\. Go back to the site you came from/);
  });

  it('a step posted twice: the page names the partner and "Return to" ends the request with access_denied', async () => {
    const owner = await server.createOwner({ appNames: ['Only App'] });
    const partner = await server.createPartner({});
    const browser = new CookieBrowser(server.url);
    const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partner.partner.id, response_type: 'code', state: 'twice' })}`);
    const loginPath = start.headers.get('location')!;
    const login = await (await browser.get(loginPath)).text();
    const credentials = { _csrf: field(login, '_csrf')!, email: owner.account.email, password: owner.password };
    const first = await browser.post(`${loginPath}/login`, credentials);
    expect(first.status).toBe(303);
    // The engine moves on to consent under a new interaction; the old login form posted again is refused.
    let location = new URL(first.headers.get('location')!, server.url).toString();
    let response = await browser.get(location);
    for (let hops = 0; response.status === 303 && hops < 6; hops += 1) {
      location = new URL(response.headers.get('location')!, server.url).toString();
      response = await browser.get(location);
    }
    const consentPath = new URL(location).pathname;
    const again = await browser.post(`${consentPath}/login`, { ...credentials, _csrf: field(await response.text(), '_csrf')! });
    expect(again.status).toBe(400);
    const page = await again.text();
    expect(text(page)).toContain('This page was already submitted');
    expect(text(page)).toContain('Return to Acme Integration');
    const back = await browser.post(/action="([^"]*\/abort)"/.exec(page)![1]!, { _csrf: field(page, '_csrf')! });
    let target = new URL(back.headers.get('location')!, server.url);
    for (let hops = 0; target.origin === server.url && hops < 6; hops += 1) {
      target = new URL((await browser.get(target.toString())).headers.get('location')!, server.url);
    }
    expect(target.searchParams.get('error')).toBe('access_denied');
    expect(target.searchParams.get('state')).toBe('twice');
  });

  it('a wrong password: "Error:" in the title, both fields marked invalid and described by the message', async () => {
    const owner = await server.createOwner({ appNames: ['A'] });
    const browser = new CookieBrowser(server.url);
    const login = await (await browser.get('/login')).text();
    const refused = await browser.post('/login', { _csrf: field(login, '_csrf')!, email: owner.account.email, password: 'not the password' });
    expect(refused.status).toBe(401);
    const page = await refused.text();
    expect(page).toContain('<title>Error: Log in');
    expect(page).toMatch(/id="email"[^>]*aria-invalid="true" aria-describedby="login-error"/);
    expect(page).toMatch(/id="password"[^>]*aria-invalid="true" aria-describedby="login-error"/);
    expect(page).toContain(`value="${owner.account.email}"`);
  });

  it('a dashboard form whose token is stale keeps the navigation on its error page', async () => {
    const owner = await server.createOwner({ appNames: ['A'] });
    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    const refused = await browser.post(`/dashboard/apps/${owner.apps[0]!.id}/keys`, { _csrf: 'stale', name: 'k', permissions: 'all' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<nav aria-label="Main">');
  });
});

describe('an owner without an app', () => {
  it('creates one, follows "continue", and the same request goes on to the consent page', async () => {
    const owner = await server.createOwner({ appNames: [] });
    const partner = await server.createPartner({});
    const browser = new CookieBrowser(server.url);
    const reached = await reachNoAppsPage(browser, partner.partner.id, { email: owner.account.email, password: owner.password });
    expect(text(reached.page)).toContain('your account has none yet');
    const retry = /href="(\/interaction\/[^"]+)">continue connecting/.exec(reached.page)![1]!;
    await createApp(server.db, owner.account.id, { displayName: 'Made Meanwhile' });
    const consent = await (await browser.get(retry)).text();
    expect(text(consent)).toContain('Allow Acme Integration to access Made Meanwhile');
    expect(consent).toContain('name="decision"');
  });
});

/** Walks the flow to the page shown after login (here: no app to connect). */
async function reachNoAppsPage(browser: CookieBrowser, clientId: string, owner: { email: string; password: string }): Promise<{ page: string }> {
  const start = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code' })}`);
  const loginPath = start.headers.get('location')!;
  const login = await (await browser.get(loginPath)).text();
  let response = await browser.post(`${loginPath}/login`, { _csrf: field(login, '_csrf')!, ...owner });
  for (let hops = 0; response.status === 303 && hops < 6; hops += 1) response = await browser.get(new URL(response.headers.get('location')!, server.url).pathname);
  return { page: await response.text() };
}
