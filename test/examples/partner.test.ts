import { createPrivateKey, sign } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createPartner } from '../../src/partners/partners.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { SigningKeySet } from '../../src/keys/signing-keys.ts';
import { SecretBox } from '../../src/keys/secret-box.ts';
import { loadKeyEncryptionKeys } from '../../src/keys/server-keys.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startPartner, type RunningPartner } from '../../examples/partner/server.ts';
import { describeInBrowser, launchChromium, logInOnPage, mainText, saveScreenshot } from '../support/chromium.ts';
import { eventually, reservePort } from '../support/notices.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The example partner (examples/partner) end to end in a browser: a partner
 * developer's site and an app owner, through appgrant's real pages. The site
 * adds itself to an app (state, PKCE, code exchange with openid-client),
 * calls /v2 with the token, refreshes it, and takes appgrant's signed notice
 * when the owner removes it; it refuses notices with a bad signature or a
 * stale timestamp.
 */

let server: TestServer;
let chromium: Browser | undefined;
let partner: RunningPartner;
let owner: Awaited<ReturnType<TestServer['createOwner']>>;

beforeAll(async () => {
  [server, chromium] = await Promise.all([startTestServer({ NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '100' }), launchChromium()]);
  const port = await reservePort();
  const site = `http://127.0.0.1:${port}`;
  const { partner: registered, clientSecret } = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'Example Partner',
    redirectUris: [`${site}/callback`],
    permissions: ['app:read'],
    removeUrl: `${site}/notices`,
  });
  partner = await startPartner({ issuer: server.issuer, clientId: registered.id, clientSecret, port, publicUrl: site });
  owner = await server.createOwner({ appNames: ['Support', 'Sales'] });
});

afterAll(async () => {
  await chromium?.close();
  await partner?.close();
  await server?.close();
});

async function ownerLogsInToDashboard(page: Page): Promise<void> {
  await page.goto(`${server.url}/login`);
  await logInOnPage(page, { email: owner.account.email, password: owner.password });
  await page.waitForURL(`${server.url}/dashboard`);
}

describeInBrowser('the example partner, with an app owner, in a browser', () => {
  it('adds itself to an app, calls /v2, refreshes, and forgets the app when the owner removes it', async () => {
    const context = await chromium!.newContext();
    const page = await context.newPage();
    await page.goto(partner.url);
    await page.getByRole('link', { name: 'Add to app' }).click();

    // appgrant's pages: log in, choose the app, allow.
    await logInOnPage(page, { email: owner.account.email, password: owner.password });
    await page.getByRole('heading', { name: 'Choose an app' }).waitFor();
    await page.getByLabel('Support').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Allow Example Partner to access Support?' }).waitFor();
    await page.getByRole('button', { name: 'Allow', exact: true }).click();

    // Back on the partner: the token is kept for that app, and the app's name was read through /v2 with it.
    await page.waitForURL((url) => url.href.startsWith(`${partner.url}/?added=`));
    const support = owner.apps[0]!;
    const held = partner.installations.get(support.id);
    expect(held).toMatchObject({ appId: support.id, appName: 'Support', scope: 'app:read' });
    expect(held?.refreshToken).toBeTruthy();
    expect(await mainText(page)).toContain('Support (app:read)');
    await saveScreenshot(page, 'example-partner-installed');

    await page.getByRole('button', { name: 'Call the API' }).click();
    await page.getByRole('status').waitFor();
    expect(await page.getByRole('status').textContent()).toContain(`GET /v2/apps/${support.id} → 200`);

    const before = held!.accessToken;
    await page.getByRole('button', { name: 'Refresh the token' }).click();
    expect(await page.getByRole('status').textContent()).toBe('Token refreshed for Support');
    const refreshed = partner.installations.get(support.id)!;
    expect(refreshed.accessToken).not.toBe(before);
    const withNew = await fetch(`${server.url}/v2/apps/${support.id}`, { headers: { authorization: `Bearer ${refreshed.accessToken}` } });
    expect(withNew.status).toBe(200);

    // The owner removes the integration on the dashboard; appgrant's signed notice reaches the partner.
    const ownerPage = await (await chromium!.newContext()).newPage();
    await ownerLogsInToDashboard(ownerPage);
    await ownerPage.goto(`${server.url}/dashboard/apps/${support.id}`);
    await ownerPage.getByRole('region', { name: 'Connected integrations' }).getByRole('link', { name: 'Remove Example Partner' }).click();
    await ownerPage.getByRole('button', { name: 'Remove Example Partner' }).click();
    await ownerPage.getByText('Example Partner was removed from Support. Its tokens no longer work.').waitFor();

    await eventually(async () => !partner.installations.has(support.id), 10_000, 'the removal notice');
    expect(partner.notices[0]).toMatchObject({ accepted: true, detail: `integration.removed for app ${support.id}` });
    await page.goto(partner.url);
    const text = await mainText(page);
    expect(text).toContain(`accepted, integration.removed for app ${support.id}`);
    // The list comes from appgrant's installations API, which no longer has the app.
    expect(text).toContain('From appgrant. None yet.');
    await saveScreenshot(page, 'example-partner-removed');
  });
});

/** A notice signed as appgrant signs them: "<t>.<body>" with the key named by kid. */
function signed(body: string, t: number, key: { kid: string; pem: ReturnType<typeof createPrivateKey> }): string {
  const signature = sign('sha256', Buffer.from(`${t}.${body}`), { key: key.pem, dsaEncoding: 'ieee-p1363' });
  return `t=${t},kid=${key.kid},es256=${signature.toString('base64url')}`;
}

it('the example partner refuses a notice with a bad signature, a stale timestamp or an unknown key, and takes a good one', async () => {
  const signingKey = await currentSigningKey();
  const body = JSON.stringify({ id: 'ntc_test', event: 'integration.removed', appId: 'app_elsewhere', clientId: 'x' });
  const now = Math.floor(Date.now() / 1000);
  const post = (header: string) => fetch(`${partner.url}/notices`, { method: 'POST', headers: { 'appgrant-signature': header }, body });

  const good = signed(body, now, signingKey);
  const tampered = good.replace(/es256=(.)/, (_match, first: string) => `es256=${first === 'A' ? 'B' : 'A'}`);
  expect((await post(tampered)).status).toBe(401);
  expect(partner.notices[0]).toMatchObject({ accepted: false, detail: 'bad signature' });
  expect((await post(signed(body, now - 3600, signingKey))).status).toBe(401);
  expect(partner.notices[0]).toMatchObject({ accepted: false, detail: 'stale timestamp' });
  expect((await post(signed(body, now, { ...signingKey, kid: 'not-published' }))).status).toBe(401);
  expect(partner.notices[0]).toMatchObject({ accepted: false, detail: 'no published key not-published' });
  expect((await post('t=1')).status).toBe(401);
  expect((await post(good)).status).toBe(204);
  expect(partner.notices[0]).toMatchObject({ accepted: true, detail: 'integration.removed for app app_elsewhere' });
});

/** The key appgrant signs notices with now, read the way the server reads it. */
async function currentSigningKey(): Promise<{ kid: string; pem: ReturnType<typeof createPrivateKey> }> {
  const box = new SecretBox(await loadKeyEncryptionKeys(server.db, server.settings.KEY_ENCRYPTION_KEYS));
  const keys = new SigningKeySet(server.db, box, 60_000, createLogger('silent'));
  await keys.start();
  const current = keys.signingKey()!;
  keys.stop();
  return { kid: current.kid, pem: current.key };
}
