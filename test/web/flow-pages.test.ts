import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CookieBrowser } from '../support/browser.ts';
import { describeInBrowser, launchChromium, logInOnPage, mainText } from '../support/chromium.ts';
import { authorizeThroughPages } from '../support/flow.ts';
import { auditPage, focusedElement, viewports } from '../support/page-audit.ts';
import { startPartnerSite, type PartnerSite } from '../support/partner-site.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { appLevelPermissions } from '../../src/partners/partners.ts';

/**
 * The pages of the "Add to app" flow as an owner meets them, at a laptop's
 * and a phone's size: login, the app picker and the consent page for a
 * partner asking for the whole catalogue, each audited (axe-core, no
 * sideways scrolling, a screenshot), then the same flow with the keyboard
 * only and with JavaScript off.
 */

let server: TestServer;
let chromium: Browser | undefined;
let site: PartnerSite;
const contexts: BrowserContext[] = [];
let partner: { id: string; name: string };
let owner: Awaited<ReturnType<TestServer['createOwner']>>;

beforeAll(async () => {
  [server, chromium, site] = await Promise.all([startTestServer(), launchChromium(), startPartnerSite()]);
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'HelpDesk Pro',
    redirectUris: [`${site.origin}/callback`],
    permissions: ['all'],
    description: 'Answers your customers from one shared inbox, with the history of every conversation.',
    developer: 'HelpDesk Labs Ltd',
    website: 'https://helpdesk.example/',
    privacyPolicyUrl: 'https://helpdesk.example/privacy',
    termsUrl: 'https://helpdesk.example/terms',
  });
  partner = { id: created.partner.id, name: created.partner.name };
  owner = await server.createOwner({ appNames: ['Acme Support', 'Acme Sales'] });
  // Already connected to Acme Support: the picker says so.
  await authorizeThroughPages(new CookieBrowser(server.url), { client_id: partner.id, response_type: 'code', scope: 'app:read' }, {
    email: owner.account.email,
    password: owner.password,
  }, { appId: owner.apps[0]!.id });
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await chromium?.close();
  await site?.close();
  await server?.close();
});

async function freshPage(options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
  const context = await chromium!.newContext(options);
  contexts.push(context);
  return context.newPage();
}

function authorizeUrl(state: string, scope = appLevelPermissions.join(' ')): string {
  return `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code', state, scope })}`;
}

async function landOnPartner(page: Page): Promise<URL> {
  await page.waitForURL((url) => url.origin === site.origin);
  return new URL(page.url());
}

describeInBrowser('the "Add to app" pages at a laptop\'s and a phone\'s size', () => {
  for (const viewport of viewports) {
    it(`${viewport.name}: login, picker and consent for the whole catalogue pass the audit, and Allow is in view`, async () => {
      const page = await freshPage({ viewport: { width: viewport.width, height: viewport.height } });
      await page.goto(`${server.url}/oauth/authorize?client_id=ptn_nobody&response_type=code`);
      await page.getByRole('heading', { name: 'Unknown integration' }).waitFor();
      await auditPage(page, 'flow-error-unknown-client');
      await page.goto(authorizeUrl(`audit-${viewport.name}`));

      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      expect(await page.getByRole('button', { name: `Cancel and return to ${partner.name}` }).isVisible()).toBe(true);
      await auditPage(page, 'flow-login');
      await logInOnPage(page, { email: owner.account.email, password: owner.password });

      await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
      const radios = page.getByRole('radio');
      expect(await radios.count()).toBe(2);
      for (const radio of await radios.all()) expect(await radio.isChecked()).toBe(false);
      const support = page.getByLabel('Acme Support');
      expect(await page.locator(`label[for="app-${owner.apps[0]!.id}"]`).textContent()).toContain(owner.apps[0]!.id);
      expect(await page.locator(`label[for="app-${owner.apps[0]!.id}"]`).textContent()).toContain('allowing again updates its permissions');
      expect(await page.locator(`label[for="app-${owner.apps[1]!.id}"]`).textContent()).not.toContain('Already connected');
      await auditPage(page, 'flow-picker');
      await support.check();
      await page.getByRole('button', { name: 'Continue' }).click();

      await page.getByRole('heading', { name: `Allow ${partner.name} to access Acme Support?` }).waitFor();
      const text = await mainText(page);
      expect(text).toContain('Reviewed by the platform');
      expect(text).toContain('HelpDesk Labs Ltd');
      expect(text).toContain('Answers your customers from one shared inbox');
      expect(text).toContain(`You'll return to ${new URL(site.origin).host}`);
      expect(text).toContain('allowing again updates its permissions');
      expect(await page.getByRole('heading', { name: `${partner.name} will be able to read` }).count()).toBe(1);
      expect(await page.getByRole('heading', { name: `${partner.name} will be able to change or delete` }).count()).toBe(1);
      for (const sensitive of ['keys:manage', 'users:manage', 'app:manage']) {
        expect(await page.locator('ul.permissions li', { hasText: sensitive }).textContent()).toContain('Sensitive');
      }
      expect(await page.locator('ul.permissions li', { hasText: 'app:read' }).textContent()).not.toContain('Sensitive');
      const website = page.getByRole('link', { name: /^Website/ });
      expect(await website.getAttribute('target')).toBe('_blank');
      expect(await website.getAttribute('rel')).toBe('noopener noreferrer');
      expect(await page.locator('.logo.placeholder').count()).toBe(1);
      expect(await page.getByRole('navigation').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Not you?' }).isVisible()).toBe(true);
      // Allow and Deny are on screen without scrolling, with every permission requested.
      for (const name of ['Allow', 'Deny']) {
        const box = await page.getByRole('button', { name, exact: true }).boundingBox();
        expect(box, name).not.toBeNull();
        expect(box!.y + box!.height, `${name} within the first screen`).toBeLessThanOrEqual(viewport.height);
      }
      await auditPage(page, 'flow-consent');
      await page.getByRole('button', { name: 'Allow', exact: true }).click();
      expect((await landOnPartner(page)).searchParams.get('code')).toBeTruthy();
    });
  }

  for (const viewport of viewports) {
    it(`${viewport.name}: an owner without apps is told how to make one and continue, and can return to the partner`, async () => {
      const appless = await server.createOwner({ appNames: [] });
      const page = await freshPage({ viewport: { width: viewport.width, height: viewport.height } });
      await page.goto(authorizeUrl(`no-apps-${viewport.name}`, 'app:read'));
      await logInOnPage(page, { email: appless.account.email, password: appless.password });
      await page.getByRole('heading', { name: 'No app to connect' }).waitFor();
      const create = page.getByRole('link', { name: /^Create an app on your dashboard/ });
      expect(await create.getAttribute('href')).toBe('/dashboard');
      expect(await page.getByRole('link', { name: `continue connecting ${partner.name}` }).count()).toBe(1);
      await auditPage(page, 'flow-no-apps');
      await page.getByRole('button', { name: `Cancel and return to ${partner.name}` }).click();
      expect((await landOnPartner(page)).searchParams.get('error')).toBe('access_denied');
    });
  }

  it('the whole flow with the keyboard only: focus starts at the email, Tab and the arrow keys choose, Enter allows, the focus ring is 3:1 or more', async () => {
    const page = await freshPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(authorizeUrl('keyboard', 'app:read'));
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    expect(await focusedElement(page)).toBe('email');
    await page.keyboard.type(owner.account.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(owner.password);
    await page.keyboard.press('Enter');

    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    await tabUntil(page, `app-${owner.apps[1]!.id}`);
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel('Acme Support').isChecked()).toBe(true);
    await tabUntil(page, 'Continue');
    await page.keyboard.press('Enter');

    await page.getByRole('heading', { name: /Allow HelpDesk Pro to access/ }).waitFor();
    await tabUntil(page, 'Allow');
    // The focus ring: at least 3 px, and at least 3:1 against the white it is drawn on (WCAG 1.4.11).
    const ring = await page.evaluate<{ width: string; color: string }>(
      '(() => { const style = getComputedStyle(document.activeElement); return { width: style.outlineWidth, color: style.outlineColor }; })()',
    );
    expect(parseFloat(ring.width)).toBeGreaterThanOrEqual(3);
    expect(contrastWithWhite(ring.color)).toBeGreaterThanOrEqual(3);
    await page.keyboard.press('Enter');
    expect((await landOnPartner(page)).searchParams.get('state')).toBe('keyboard');
  });

  it('the whole flow with JavaScript off, including Cancel on the login page', async () => {
    const page = await freshPage({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    await page.goto(authorizeUrl('no-script-cancel', 'app:read'));
    await page.getByRole('button', { name: `Cancel and return to ${partner.name}` }).click();
    const cancelled = await landOnPartner(page);
    expect(cancelled.searchParams.get('error')).toBe('access_denied');
    expect(cancelled.searchParams.get('state')).toBe('no-script-cancel');

    await page.goto(authorizeUrl('no-script', 'app:read'));
    await logInOnPage(page, { email: owner.account.email, password: owner.password });
    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    await page.getByLabel('Acme Sales').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
    const landed = await landOnPartner(page);
    expect(landed.searchParams.get('state')).toBe('no-script');
    expect(landed.searchParams.get('code')).toBeTruthy();
  });
});

/** Presses Tab until the focused element has this id or text (at most 40 times). */
async function tabUntil(page: Page, target: string): Promise<void> {
  for (let presses = 0; presses < 40; presses += 1) {
    await page.keyboard.press('Tab');
    if ((await focusedElement(page)) === target) return;
  }
  throw new Error(`${target} was never reached with Tab`);
}

/** The contrast ratio of an rgb() colour against white (WCAG 2 relative luminance). */
function contrastWithWhite(color: string): number {
  const [red, green, blue] = (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number).map((channel) => {
    const value = channel / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * red! + 0.7152 * green! + 0.0722 * blue!;
  return 1.05 / (luminance + 0.05);
}
