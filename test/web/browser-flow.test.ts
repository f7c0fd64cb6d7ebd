import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runCommand } from '../../src/cli/commands.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { CookieBrowser } from '../support/browser.ts';
import { describeInBrowser, launchChromium, logInOnPage, mainText, saveScreenshot } from '../support/chromium.ts';
import { box } from '../support/credentials.ts';
import { authorizeThroughPages, exchangeCode, tokenBody } from '../support/flow.ts';
import { startPartnerSite, type PartnerSite } from '../support/partner-site.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The "Add to app" flow and the partner portal in a real browser (the
 * system's Chromium): docs/contract.md, "The OAuth flow" steps 1 to 5 and "Pages" (partner portal). Labels
 * and roles locate every control, so these tests also check the pages are
 * labelled.
 */

let server: TestServer;
let chromium: Browser | undefined;
let site: PartnerSite;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [server, chromium, site] = await Promise.all([startTestServer(), launchChromium(), startPartnerSite()]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await chromium?.close();
  await site?.close();
  await server?.close();
});

/** A fresh browser profile: no cookies, so no session. */
async function freshPage(): Promise<Page> {
  const context = await chromium!.newContext();
  contexts.push(context);
  return context.newPage();
}

function authorizeUrl(base: string, query: Record<string, string>): string {
  return `${base}/oauth/authorize?${new URLSearchParams({ response_type: 'code', ...query })}`;
}

/** Waits until the browser has landed on the partner's site and returns that URL. */
async function landOnPartner(page: Page): Promise<URL> {
  await page.waitForURL((url) => url.origin === site.origin);
  expect((await page.textContent('body'))?.trim()).toBe('ok');
  return new URL(page.url());
}

/** Status and error of /oauth/token for a client's credentials and a code that does not exist. */
async function clientAuthentication(base: string, client: { id: string; secret: string }): Promise<{ status: number; error: string | undefined }> {
  const response = await exchangeCode(base, client, { code: 'not-a-code-that-exists' });
  return { status: response.status, error: (await tokenBody(response)).error };
}

describeInBrowser('the "Add to app" flow in a browser', () => {
  let owner: Awaited<ReturnType<TestServer['createOwner']>>;
  let partner: { id: string; secret: string };
  const callback = () => `${site.origin}/callback`;

  beforeAll(async () => {
    owner = await server.createOwner({ appNames: ['Support', 'Sales'] });
    const created = await server.createPartner({ redirectUris: [callback()] });
    partner = { id: created.partner.id, secret: created.clientSecret };
  });

  it('logs in, picks an app, allows, and lands on the partner with a code that exchanges for a token', async () => {
    const page = await freshPage();
    await page.goto(authorizeUrl(server.url, { client_id: partner.id, state: 'browser-state-1' }));

    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    expect(await mainText(page)).toContain('Acme Integration wants to connect to one of your apps');
    await saveScreenshot(page, 'flow-login');
    await logInOnPage(page, { email: owner.account.email, password: owner.password });

    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    const choices = page.getByRole('radio');
    expect(await choices.count()).toBe(2);
    // Listed by name, none preselected: the owner picks one deliberately.
    expect(await choices.first().getAttribute('id')).toBe(`app-${owner.apps[1]!.id}`);
    expect(await page.getByLabel('Sales').isChecked()).toBe(false);
    expect(await page.getByLabel('Support').isChecked()).toBe(false);
    await saveScreenshot(page, 'flow-app-picker');
    await page.getByLabel('Support').check();
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('heading', { name: 'Allow Acme Integration to access Support?' }).waitFor();
    const consent = await mainText(page);
    expect(consent).toContain("Read the app's name, settings and metadata");
    expect(consent).toContain('Send messages to the users of the app on any channel');
    expect(await page.getByRole('link', { name: 'choose another app' }).count()).toBe(1);
    await saveScreenshot(page, 'flow-consent');
    await page.getByRole('button', { name: 'Allow', exact: true }).click();

    const landed = await landOnPartner(page);
    await saveScreenshot(page, 'flow-partner-callback');
    expect(landed.pathname).toBe('/callback');
    expect(landed.searchParams.get('state')).toBe('browser-state-1');
    expect(landed.searchParams.get('iss')).toBe(server.issuer);
    const code = landed.searchParams.get('code');
    expect(code).toBeTruthy();
    expect(site.visits.some((visit) => visit.includes(`code=${encodeURIComponent(code!)}`))).toBe(true);

    const response = await exchangeCode(server.url, partner, { code: code! });
    const body = await tokenBody(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', app_id: owner.apps[0]!.id, scope: 'app:read message:send' });

    const app = await fetch(`${server.url}/v2/apps/${owner.apps[0]!.id}`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(app.status).toBe(200);
    expect(((await app.json()) as { app: { id: string } }).app.id).toBe(owner.apps[0]!.id);
  });

  it('redirects to the partner with error=access_denied and the state when the owner presses Deny', async () => {
    const page = await freshPage();
    await page.goto(authorizeUrl(server.url, { client_id: partner.id, state: 'browser-deny' }));
    await logInOnPage(page, { email: owner.account.email, password: owner.password });
    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    await page.getByLabel('Sales').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Allow Acme Integration to access Sales?' }).waitFor();
    await page.getByRole('button', { name: 'Deny', exact: true }).click();

    const landed = await landOnPartner(page);
    await saveScreenshot(page, 'flow-denied');
    expect(landed.pathname).toBe('/callback');
    expect(landed.searchParams.get('error')).toBe('access_denied');
    expect(landed.searchParams.get('state')).toBe('browser-deny');
    expect(landed.searchParams.get('code')).toBeNull();
    const live = await server.db('authorizations').where({ partner_id: partner.id, app_id: owner.apps[1]!.id }).whereNull('revoked_at');
    expect(live).toEqual([]);
  });

  it('delivers the response by form_post: the auto-submit script runs under the page’s CSP', async () => {
    const page = await freshPage();
    const blocked: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
    });
    await page.goto(authorizeUrl(server.url, { client_id: partner.id, state: 'browser-form-post', response_mode: 'form_post' }));
    await logInOnPage(page, { email: owner.account.email, password: owner.password });
    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    await page.getByLabel('Support').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow', exact: true }).click();

    const landed = await landOnPartner(page);
    expect(blocked).toEqual([]);
    expect(landed.pathname).toBe('/callback');
    expect(landed.search).toBe('');
    const posted = site.posts.find((post) => post.body.get('state') === 'browser-form-post');
    expect(posted?.path).toBe('/callback');
    expect(posted?.body.get('iss')).toBe(server.issuer);
    const response = await exchangeCode(server.url, partner, { code: posted!.body.get('code')! });
    expect(response.status).toBe(200);
    expect(await tokenBody(response)).toMatchObject({ app_id: owner.apps[0]!.id });
  });

  it('shows wrong credentials on the login page without leaving it', async () => {
    const page = await freshPage();
    await page.goto(authorizeUrl(server.url, { client_id: partner.id }));
    await logInOnPage(page, { email: owner.account.email, password: 'not the password' });
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('The email or password is incorrect.');
    expect(await page.getByLabel('Email').inputValue()).toBe(owner.account.email);
    expect(page.url()).toContain('/interaction/');
  });
});

describeInBrowser('the partner portal in a browser', () => {
  it('registers an integration, shows its credentials and button, and keeps it pending until approved', async () => {
    const developer = await server.createOwner({ appNames: ['Developer Sandbox'] });
    const stranger = await server.createOwner({ appNames: ['Stranger App'] });
    const name = `Portal Integration ${Date.now()}`;

    // Register through the form.
    const page = await freshPage();
    await page.goto(`${server.url}/login`);
    await logInOnPage(page, { email: developer.account.email, password: developer.password });
    await page.waitForURL(`${server.url}/dashboard`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations you build' }).click();
    await page.getByRole('heading', { name: 'Integrations you build' }).waitFor();
    expect(await mainText(page)).toContain('You have not registered an integration yet.');
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Redirect URLs (one per line, the first is the default)').fill(`${site.origin}/callback`);
    await page.getByLabel('Removal notice URL (optional)').fill(`${site.origin}/removed`);
    await page.getByRole('checkbox', { name: /app:read$/ }).check();
    await saveScreenshot(page, 'portal-register-form');
    await page.getByRole('button', { name: 'Register integration' }).click();

    await page.getByRole('heading', { name }).waitFor();
    expect(await page.getByRole('status').first().textContent()).toContain(`Integration "${name}" registered.`);
    const clientId = await page.getByLabel('Client id').inputValue();
    const clientSecret = await page.getByLabel('Client secret').inputValue();
    expect(clientId).toMatch(/^ptn_/);
    expect(clientSecret.length).toBeGreaterThanOrEqual(32);
    const snippet = await page.getByLabel('HTML for your site').inputValue();
    expect(snippet).toContain(`${server.issuer}/oauth/authorize?client_id=${clientId}`);
    expect(snippet).toContain('Add to app');
    expect(await mainText(page)).toContain('Pending approval');
    await saveScreenshot(page, 'portal-registered');

    const stored = await server.db('partners').where({ id: clientId }).first();
    expect(stored).toMatchObject({
      name,
      approved: false,
      account_id: developer.account.id,
      remove_url: `${site.origin}/removed`,
      permissions: ['app:read'],
      redirect_uris: [`${site.origin}/callback`],
    });
    expect(stored.secret_hash).not.toContain(clientSecret);

    // The secret is shown once: the integration's page does not show it again.
    await page.goto(`${server.url}/partners/${clientId}`);
    expect(await page.getByLabel('Client secret').count()).toBe(0);
    expect(await page.content()).not.toContain(clientSecret);
    await page.goto(`${server.url}/partners`);
    expect(await page.getByRole('link', { name }).count()).toBe(1);
    expect(await mainText(page)).toContain(clientId);

    // Pending: the developer can add it to their own app.
    const own = await freshPage();
    await own.goto(authorizeUrl(server.url, { client_id: clientId, state: 'own-app' }));
    await logInOnPage(own, { email: developer.account.email, password: developer.password });
    await own.getByRole('heading', { name: `Allow ${name} to access Developer Sandbox?` }).waitFor();
    await own.getByRole('button', { name: 'Allow', exact: true }).click();
    const ownCallback = await landOnPartner(own);
    expect(ownCallback.searchParams.get('state')).toBe('own-app');
    const ownToken = await exchangeCode(server.url, { id: clientId, secret: clientSecret }, { code: ownCallback.searchParams.get('code')! });
    expect(ownToken.status).toBe(200);
    expect(await tokenBody(ownToken)).toMatchObject({ app_id: developer.apps[0]!.id, scope: 'app:read' });

    // Pending: another owner has no app to pick, and going back tells the partner access_denied.
    const other = await freshPage();
    await other.goto(authorizeUrl(server.url, { client_id: clientId, state: 'stranger' }));
    await logInOnPage(other, { email: stranger.account.email, password: stranger.password });
    await other.getByRole('heading', { name: 'No app to connect' }).waitFor();
    expect(await other.getByRole('radio').count()).toBe(0);
    // The stranger does have an app: the page says the integration awaits approval, not that there is no app.
    expect(await mainText(other)).toContain(`${name} has not been reviewed by the platform yet`);
    expect(await mainText(other)).not.toContain('your account has none');
    expect(await other.getByRole('button', { name: 'Allow', exact: true }).count()).toBe(0);
    await saveScreenshot(other, 'portal-pending-no-app');
    await other.getByRole('button', { name: `Cancel and return to ${name}` }).click();
    const refused = await landOnPartner(other);
    expect(refused.searchParams.get('error')).toBe('access_denied');
    expect(refused.searchParams.get('state')).toBe('stranger');
    expect(await server.db('authorizations').where({ partner_id: clientId, app_id: stranger.apps[0]!.id })).toEqual([]);

    // The operator approves it (the CLI command): now the other owner can add it.
    const approved = await runCommand(
      { db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box },
      ['partner', 'approve', clientId],
    );
    expect(approved).toMatchObject({ client_id: clientId, approved: true });
    const later = await freshPage();
    await later.goto(authorizeUrl(server.url, { client_id: clientId, state: 'approved' }));
    await logInOnPage(later, { email: stranger.account.email, password: stranger.password });
    await later.getByRole('heading', { name: `Allow ${name} to access Stranger App?` }).waitFor();
    await later.getByRole('button', { name: 'Allow', exact: true }).click();
    const approvedCallback = await landOnPartner(later);
    const strangerToken = await exchangeCode(server.url, { id: clientId, secret: clientSecret }, { code: approvedCallback.searchParams.get('code')! });
    expect(strangerToken.status).toBe(200);
    expect((await tokenBody(strangerToken)).app_id).toBe(stranger.apps[0]!.id);

    await page.goto(`${server.url}/partners/${clientId}`);
    expect(await mainText(page)).toContain('Approved');
    expect(await mainText(page)).not.toContain('Pending approval');
  });

  it('edits the redirect URLs; the old one stops working and the new first one is the default', async () => {
    const developer = await server.createOwner({ appNames: ['Redirect Lab'] });
    const created = await server.createPartner({ redirectUris: [`${site.origin}/old-callback`], accountId: developer.account.id, approved: false });
    const client = { id: created.partner.id, secret: created.clientSecret };

    const page = await freshPage();
    await page.goto(`${server.url}/login`);
    await logInOnPage(page, { email: developer.account.email, password: developer.password });
    await page.waitForURL(`${server.url}/dashboard`);
    await page.goto(`${server.url}/partners/${client.id}`);
    const field = page.getByLabel('One per line; compared exactly; the first is used when a request names none');
    expect(await field.inputValue()).toBe(`${site.origin}/old-callback`);
    await field.fill(`${site.origin}/new-callback\n${site.origin}/second-callback`);
    await page.getByRole('button', { name: 'Save redirect URLs' }).click();
    await page.getByText('Redirect URLs saved.').waitFor();
    await saveScreenshot(page, 'portal-redirects-saved');
    await page.goto(`${server.url}/partners/${client.id}`);
    expect(await page.getByLabel('One per line; compared exactly; the first is used when a request names none').inputValue()).toBe(
      `${site.origin}/new-callback\n${site.origin}/second-callback`,
    );
    expect((await server.db('partners').where({ id: client.id }).first()).redirect_uris).toEqual([
      `${site.origin}/new-callback`,
      `${site.origin}/second-callback`,
    ]);

    // The removed URL is refused with an error page, never a redirect.
    const old = await fetch(authorizeUrl(server.url, { client_id: client.id, redirect_uri: `${site.origin}/old-callback` }), { redirect: 'manual' });
    expect(old.status).toBe(400);
    expect(old.headers.get('location')).toBeNull();

    // No redirect_uri: the new first URL; the second one works when named.
    const owner = { email: developer.account.email, password: developer.password };
    const first = await authorizeThroughPages(new CookieBrowser(server.url), { client_id: client.id, response_type: 'code' }, owner);
    expect(first.origin + first.pathname).toBe(`${site.origin}/new-callback`);
    expect((await exchangeCode(server.url, client, { code: first.searchParams.get('code')! })).status).toBe(200);
    const second = await authorizeThroughPages(
      new CookieBrowser(server.url),
      { client_id: client.id, response_type: 'code', redirect_uri: `${site.origin}/second-callback` },
      owner,
    );
    expect(second.origin + second.pathname).toBe(`${site.origin}/second-callback`);
    expect(
      (await exchangeCode(server.url, client, { code: second.searchParams.get('code')!, redirect_uri: `${site.origin}/second-callback` })).status,
    ).toBe(200);
  });

  it('rotates the secret: old and new both work during SECRET_ROTATION_GRACE, then only the new one', async () => {
    const rotation = await startTestServer({ SECRET_ROTATION_GRACE: '3' });
    let page: Page | undefined;
    try {
      const developer = await rotation.createOwner({ appNames: ['Rotation App'] });
      const created = await rotation.createPartner({ redirectUris: [`${site.origin}/callback`], accountId: developer.account.id, approved: false });
      const old = { id: created.partner.id, secret: created.clientSecret };
      expect(await clientAuthentication(rotation.url, old)).toEqual({ status: 400, error: 'invalid_grant' });
      expect(await clientAuthentication(rotation.url, { id: old.id, secret: 'wrong-secret' })).toEqual({ status: 401, error: 'invalid_client' });

      page = await freshPage();
      await page.goto(`${rotation.url}/login`);
      await logInOnPage(page, { email: developer.account.email, password: developer.password });
      await page.waitForURL(`${rotation.url}/dashboard`);
      await page.goto(`${rotation.url}/partners/${old.id}`);
      await page.getByRole('link', { name: 'Rotate secret' }).click();
      await page.getByRole('heading', { name: /^Rotate the client secret of / }).waitFor();
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      await page.getByText(/^New client secret for .* created/).waitFor();
      const rotatedAt = Date.now();
      const fresh = { id: old.id, secret: await page.getByLabel('Client secret').inputValue() };
      expect(fresh.secret).not.toBe(old.secret);
      expect(fresh.secret.length).toBeGreaterThanOrEqual(32);
      expect(await mainText(page)).toMatch(/The previous secret keeps working until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      await saveScreenshot(page, 'portal-secret-rotated');

      // During the grace period both authenticate; a wrong one still does not.
      expect(await clientAuthentication(rotation.url, old)).toEqual({ status: 400, error: 'invalid_grant' });
      expect(await clientAuthentication(rotation.url, fresh)).toEqual({ status: 400, error: 'invalid_grant' });
      expect(await clientAuthentication(rotation.url, { id: old.id, secret: 'wrong-secret' })).toEqual({ status: 401, error: 'invalid_client' });
      expect(Date.now() - rotatedAt, 'the grace-period checks ran inside the 3 s grace').toBeLessThan(3000);

      // After the grace period only the new secret works.
      await new Promise((done) => setTimeout(done, Math.max(0, rotatedAt + 4000 - Date.now())));
      expect(await clientAuthentication(rotation.url, old)).toEqual({ status: 401, error: 'invalid_client' });
      expect(await clientAuthentication(rotation.url, fresh)).toEqual({ status: 400, error: 'invalid_grant' });
      // Opened again (a GET: reloading would post the rotate form again), the page no longer mentions the old secret.
      await page.goto(`${rotation.url}/partners/${old.id}`);
      expect(await mainText(page)).not.toContain('The previous secret keeps working');
      expect(await page.getByLabel('Client secret').count()).toBe(0);
    } finally {
      // The browser's keep-alive connections would hold the server's graceful shutdown open.
      await page?.context().close();
      await rotation.close();
    }
  });
});
