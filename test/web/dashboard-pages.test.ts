import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CookieBrowser } from '../support/browser.ts';
import { describeInBrowser, launchChromium, logInOnPage, mainText } from '../support/chromium.ts';
import { authorizeThroughPages } from '../support/flow.ts';
import { auditPage, focusedElement, viewports } from '../support/page-audit.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Every page of the dashboard and the partner portal, and each state a form
 * leaves it in, at a laptop's and a phone's size: axe-core finds nothing, no
 * page scrolls sideways (down to 320 px), a screenshot of each. Pages that
 * show a secret show it focused, once: a reload creates nothing.
 */

let server: TestServer;
let chromium: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [server, chromium] = await Promise.all([startTestServer(), launchChromium()]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await chromium?.close();
  await server?.close();
});

async function signedInPage(owner: { account: { email: string }; password: string }, options: Parameters<Browser['newContext']>[0]): Promise<Page> {
  const context = await chromium!.newContext(options);
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await logInOnPage(page, { email: owner.account.email, password: owner.password });
  await page.waitForURL(`${server.url}/dashboard`);
  return page;
}

describeInBrowser('the dashboard and the portal at a laptop\'s and a phone\'s size', () => {
  for (const viewport of viewports) {
    it(`${viewport.name}: apps, an app with an integration and keys, confirmations, activity, errors`, async () => {
      const owner = await server.createOwner({ appNames: ['Acme Support', 'Acme Sales'] });
      const partner = await server.createPartner({ redirectUris: ['https://helpdesk.example/callback'] });
      await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.partner.id, response_type: 'code' }, {
        email: owner.account.email,
        password: owner.password,
      }, { appId: owner.apps[0]!.id });
      const app = owner.apps[0]!;
      const page = await signedInPage(owner, { viewport: { width: viewport.width, height: viewport.height } });
      await auditPage(page, 'dashboard-apps');

      await page.goto(`${server.url}/dashboard/apps/${app.id}`);
      await auditPage(page, 'dashboard-app');

      // A refused key: the summary takes focus, the fields keep what was typed.
      await page.getByLabel('Name', { exact: true }).fill('Reporting key');
      await page.getByLabel(/^Allowed IP ranges/).fill('2001:db8::/32\nnot-an-address');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
      expect(await page.title()).toMatch(/^Error: /);
      expect(await page.evaluate<string>("document.activeElement.className")).toBe('error-summary');
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Reporting key');
      await auditPage(page, 'dashboard-key-refused');

      await page.getByRole('checkbox', { name: /app:read$/ }).check();
      await page.getByLabel(/^Allowed IP ranges/).fill('2001:db8::/32');
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = page.getByLabel('Secret', { exact: true });
      await secret.waitFor();
      const value = await secret.inputValue();
      expect(await focusedElement(page)).toBe(await secret.getAttribute('id'));
      expect(await page.getByRole('button', { name: 'Copy' }).first().isVisible()).toBe(true);
      await auditPage(page, 'dashboard-key-created');
      await page.reload();
      await page.getByRole('heading', { name: 'Acme Support', level: 1 }).waitFor();
      expect(await page.content()).not.toContain(value);
      expect(await server.db('api_keys').where({ app_id: app.id })).toHaveLength(1);
      expect(await mainText(page)).toContain('2001:db8::/32');

      await page.getByRole('link', { name: 'Revoke Reporting key' }).click();
      await page.getByRole('heading', { name: 'Revoke the key "Reporting key"?' }).waitFor();
      await auditPage(page, 'dashboard-confirm-revoke');
      await page.getByRole('link', { name: 'Cancel' }).click();
      await page.getByRole('link', { name: 'Remove Acme Integration' }).click();
      await page.getByRole('heading', { name: 'Remove Acme Integration from Acme Support?' }).waitFor();
      await auditPage(page, 'dashboard-confirm-remove');
      await page.getByRole('button', { name: 'Remove Acme Integration' }).click();
      await page.getByText('Acme Integration was removed from Acme Support.').waitFor();
      await auditPage(page, 'dashboard-integration-removed');

      await page.goto(`${server.url}/dashboard/activity`);
      await auditPage(page, 'dashboard-activity');
      await page.goto(`${server.url}/dashboard/apps/not-an-app`);
      expect(await page.getByRole('navigation', { name: 'Main' }).count()).toBe(1);
      await auditPage(page, 'dashboard-not-found');
    });

    it(`${viewport.name}: the portal, a refused and an accepted registration, the secret once, rotation`, async () => {
      const developer = await server.createOwner({ appNames: ['Sandbox'] });
      const page = await signedInPage(developer, { viewport: { width: viewport.width, height: viewport.height } });
      await page.goto(`${server.url}/partners`);
      await auditPage(page, 'portal');

      await page.getByLabel('Name', { exact: true }).fill('HelpDesk Pro');
      await page.getByLabel(/^Redirect URLs/).fill('https://helpdesk.example/callback');
      await page.getByLabel(/^Logo URL/).fill('http://helpdesk.example/logo.png');
      await page.getByRole('checkbox', { name: /app:read$/ }).check();
      await page.getByRole('button', { name: 'Register integration' }).click();
      await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
      expect(await page.getByRole('checkbox', { name: /app:read$/ }).isChecked()).toBe(true);
      await auditPage(page, 'portal-register-refused');

      await page.getByLabel(/^Logo URL/).fill('https://helpdesk.example/logo.png');
      await page.getByRole('button', { name: 'Register integration' }).click();
      const secret = page.getByLabel('Client secret');
      await secret.waitFor();
      const value = await secret.inputValue();
      expect(await focusedElement(page)).toBe(await secret.getAttribute('id'));
      await auditPage(page, 'portal-registered');
      await page.reload();
      await page.getByRole('heading', { name: 'HelpDesk Pro', level: 1 }).waitFor();
      expect(await page.content()).not.toContain(value);
      expect(await server.db('partners').where({ account_id: developer.account.id })).toHaveLength(1);

      await page.getByRole('link', { name: 'Rotate secret' }).click();
      await auditPage(page, 'portal-confirm-rotate');
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      await page.getByLabel('Client secret').waitFor();
      await auditPage(page, 'portal-rotated');

      // The integration's other pages, with one installation on the developer's own app.
      const partnerId = new URL(page.url()).pathname.split('/')[2]!;
      await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partnerId, response_type: 'code' }, {
        email: developer.account.email,
        password: developer.password,
      });
      for (const [path, name] of [['installations', 'portal-installations'], ['notices', 'portal-notices'], ['activity', 'portal-activity']] as const) {
        await page.goto(`${server.url}/partners/${partnerId}/${path}`);
        await auditPage(page, name);
      }
      const [installation] = await server.db('authorizations').where({ partner_id: partnerId }).whereNull('revoked_at');
      await page.goto(`${server.url}/partners/${partnerId}/installations/${installation.id}/remove`);
      await auditPage(page, 'portal-confirm-installation-removal');
    });
  }

  it('without JavaScript: a key is created and shown once, with no Copy button that would do nothing', async () => {
    const owner = await server.createOwner({ appNames: ['No Script'] });
    const page = await signedInPage(owner, { javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    await page.goto(`${server.url}/dashboard/apps/${owner.apps[0]!.id}`);
    await page.getByLabel('Name', { exact: true }).fill('Plain key');
    await page.getByRole('checkbox', { name: /^All permissions/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = page.getByLabel('Secret', { exact: true });
    await secret.waitFor();
    expect(await page.getByRole('button', { name: 'Copy' }).count()).toBe(0);
    await page.reload();
    expect(await page.getByLabel('Secret', { exact: true }).count()).toBe(0);
    expect(await server.db('api_keys').where({ app_id: owner.apps[0]!.id })).toHaveLength(1);
  });
});
