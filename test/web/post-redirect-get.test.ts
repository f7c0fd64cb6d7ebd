import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, field, text } from '../support/browser.ts';
import { authorizeThroughPages } from '../support/flow.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Every form that makes or replaces a secret answers with a redirect (Post/
 * Redirect/Get): the page it leads to shows the secret once, at the top and
 * focused, to this session only; reloading it creates nothing and shows
 * nothing again, and no secret is ever in a URL. Forms refused keep what was
 * typed and checked, and say what is wrong next to each field. Remove,
 * Revoke and Rotate ask first on a page that names what will happen.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

async function signedIn(owner: { account: { email: string }; password: string }): Promise<CookieBrowser> {
  return (await logInToDashboard(server.url, { email: owner.account.email, password: owner.password })).browser;
}

/** The value of the read-only field labelled `label` in a page. */
function copyValue(page: string, label: string): string | undefined {
  const id = new RegExp(`<label for="([^"]+)">${label}</label>`).exec(page)?.[1];
  return id ? new RegExp(`id="${id}"[^>]*value="([^"]*)"`).exec(page)?.[1] : undefined;
}

describe('Post/Redirect/Get for secrets', () => {
  it('a new key: 303 to the app page, the secret there once and focused, a reload shows and creates nothing', async () => {
    const owner = await server.createOwner({ appNames: ['Key Shop'] });
    const app = owner.apps[0]!;
    const browser = await signedIn(owner);
    const created = await submitForm(browser, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, {
      name: 'Reporting key',
      permissions: 'app:read',
    });
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe(`/dashboard/apps/${app.id}`);
    expect(await created.text()).not.toMatch(/Secret/);

    const first = await (await browser.get(`/dashboard/apps/${app.id}`)).text();
    const secret = copyValue(first, 'Secret');
    expect(secret?.length).toBeGreaterThanOrEqual(20);
    expect(first).toMatch(new RegExp(`value="${secret}" autofocus`));
    // At the top: before the lists and the form.
    expect(first.indexOf(secret!)).toBeLessThan(first.indexOf('Connected integrations'));
    const keys = await server.db('api_keys').where({ app_id: app.id });
    expect(keys).toHaveLength(1);
    // Sealed while it waited: the flash table never held the secret in the clear, and holds nothing now.
    expect(await server.db('page_flashes')).toEqual([]);

    const again = await browser.get(`/dashboard/apps/${app.id}`);
    expect(again.status).toBe(200);
    expect(await again.text()).not.toContain(secret);
    expect(await server.db('api_keys').where({ app_id: app.id })).toHaveLength(1);
  });

  it('the secret is kept for the session that made it only, sealed, and never in a URL', async () => {
    const owner = await server.createOwner({ appNames: ['Shared'] });
    const app = owner.apps[0]!;
    const [maker, otherTab] = [await signedIn(owner), await signedIn(owner)];
    const created = await submitForm(maker, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, {
      name: 'Mine',
      permissions: 'all',
    });
    expect(created.status).toBe(303);
    const [waiting] = await server.db('page_flashes').select('sealed', 'page');
    expect(waiting.page).toBe(`/dashboard/apps/${app.id}`);
    expect(waiting.sealed).toMatch(/^v1\./);
    expect(await (await otherTab.get(`/dashboard/apps/${app.id}`)).text()).not.toMatch(/label for="[^"]+">Secret</);
    const page = await (await maker.get(`/dashboard/apps/${app.id}`)).text();
    const secret = copyValue(page, 'Secret')!;
    expect(waiting.sealed).not.toContain(secret);
    expect(created.headers.get('location')).not.toContain(secret);
  });

  it('registering an integration: 303 to its page, the client secret there once', async () => {
    const developer = await server.createOwner({ appNames: ['Sandbox'] });
    const browser = await signedIn(developer);
    const registered = await submitForm(browser, '/partners', '/partners', {
      name: 'HelpDesk Pro',
      redirectUris: 'https://helpdesk.example/callback',
      permissions: 'app:read',
    });
    expect(registered.status).toBe(303);
    const location = registered.headers.get('location')!;
    expect(location).toMatch(/^\/partners\/ptn_/);
    const first = await (await browser.get(location)).text();
    const secret = copyValue(first, 'Client secret');
    expect(secret?.length).toBeGreaterThanOrEqual(32);
    expect(text(first)).toContain('Integration "HelpDesk Pro" registered.');
    const second = await (await browser.get(location)).text();
    expect(second).not.toContain(secret);
    expect(second).not.toContain('registered.');
    expect(await server.db('partners').where({ account_id: developer.account.id })).toHaveLength(1);
  });

  it('rotating a secret: the confirmation page changes nothing; the rotation redirects and shows the new secret once', async () => {
    const developer = await server.createOwner({ appNames: ['Sandbox'] });
    const partner = await server.createPartner({ accountId: developer.account.id, approved: false });
    const browser = await signedIn(developer);
    const hashBefore = (await server.db('partners').where({ id: partner.partner.id }).first()).secret_hash;
    const confirm = await (await browser.get(`/partners/${partner.partner.id}/rotate-secret`)).text();
    expect(text(confirm)).toContain('Rotate the client secret of Acme Integration?');
    expect(text(confirm)).toMatch(/The current one keeps working for \d+ (hours|minutes|seconds)/);
    expect((await server.db('partners').where({ id: partner.partner.id }).first()).secret_hash).toBe(hashBefore);

    const rotated = await browser.post(`/partners/${partner.partner.id}/rotate-secret`, { _csrf: field(confirm, '_csrf')! });
    expect(rotated.status).toBe(303);
    const first = await (await browser.get(`/partners/${partner.partner.id}`)).text();
    const secret = copyValue(first, 'Client secret')!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const hashAfter = (await server.db('partners').where({ id: partner.partner.id }).first()).secret_hash;
    expect(hashAfter).not.toBe(hashBefore);
    expect(await (await browser.get(`/partners/${partner.partner.id}`)).text()).not.toContain(secret);
    expect((await server.db('partners').where({ id: partner.partner.id }).first()).secret_hash).toBe(hashAfter);
  });
});

describe('destructive actions ask first and name their target', () => {
  it('Remove: the confirmation names the partner and the app and removes nothing; the result names them again', async () => {
    const owner = await server.createOwner({ appNames: ['Acme Support'] });
    const created = await server.createPartner({});
    await authorizeThroughPages(new CookieBrowser(server.url), { client_id: created.partner.id, response_type: 'code' }, { email: owner.account.email, password: owner.password });
    const [authorization] = await server.db('authorizations').where({ partner_id: created.partner.id }).whereNull('revoked_at');
    const browser = await signedIn(owner);
    const path = `/dashboard/apps/${owner.apps[0]!.id}/integrations/${authorization.id}/remove`;
    const confirm = await browser.get(path);
    expect(confirm.status).toBe(200);
    const page = await confirm.text();
    expect(text(page)).toContain('Acme Integration will lose access to Acme Support now');
    expect(page).toContain('<nav aria-label="Main">');
    expect(await server.db('authorizations').where({ id: authorization.id }).whereNull('revoked_at')).toHaveLength(1);
    const removed = await browser.post(path, { _csrf: field(page, '_csrf')! });
    expect(removed.status).toBe(303);
    expect(text(await (await browser.get(removed.headers.get('location')!)).text())).toContain('Acme Integration was removed from Acme Support.');
    expect(await server.db('authorizations').where({ id: authorization.id }).whereNull('revoked_at')).toHaveLength(0);
  });

  it('Revoke: a key that is not the app\'s has no confirmation page (404), and a revoked one is named', async () => {
    const owner = await server.createOwner({ appNames: ['Keys'] });
    const app = owner.apps[0]!;
    const browser = await signedIn(owner);
    expect((await browser.get(`/dashboard/apps/${app.id}/keys/not-a-key/revoke`)).status).toBe(404);
    await submitForm(browser, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, { name: 'Old key', permissions: 'app:read' });
    await browser.get(`/dashboard/apps/${app.id}`);
    const [key] = await server.db('api_keys').where({ app_id: app.id });
    const confirm = await (await browser.get(`/dashboard/apps/${app.id}/keys/${key.id}/revoke`)).text();
    expect(text(confirm)).toContain(`The key "Old key" (${key.id}) will stop working now`);
    expect((await server.db('api_keys').where({ id: key.id }).first()).revoked_at).toBeNull();
    const revoked = await browser.post(`/dashboard/apps/${app.id}/keys/${key.id}/revoke`, { _csrf: field(confirm, '_csrf')! });
    expect(text(await (await browser.get(revoked.headers.get('location')!)).text())).toContain(`Key "Old key" (${key.id}) was revoked.`);
  });
});

describe('forms refused keep what was typed and say what is wrong next to each field', () => {
  it('a key with no permission checked is refused: none is not "all"', async () => {
    const owner = await server.createOwner({ appNames: ['Strict'] });
    const app = owner.apps[0]!;
    const browser = await signedIn(owner);
    const refused = await submitForm(browser, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, {
      name: 'Nothing chosen',
      expiresAt: '2999-01-02T03:04',
      allowedIps: '2001:db8::/32\r\n10.0.0.0/8',
    });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(page).toContain('<title>Error: Strict');
    expect(page).toMatch(/class="error-summary" role="alert" tabindex="-1" autofocus/);
    expect(page).toMatch(/<a href="#perm-all">Permissions: name the permissions to grant, or &quot;all&quot; for all of them<\/a>/);
    expect(page).toMatch(/<fieldset aria-describedby="perm-all-error">/);
    expect(page).toMatch(/id="perm-app:read" name="permissions" value="app:read" aria-invalid="true">/);
    expect(page).toContain('value="Nothing chosen"');
    expect(page).toContain('value="2999-01-02T03:04"');
    expect(page).toContain('>2001:db8::/32\r\n10.0.0.0/8</textarea>');
    expect(await server.db('api_keys').where({ app_id: app.id })).toEqual([]);
  });

  it('checked permissions survive a refusal of another field, whose message sits next to it with the typed text', async () => {
    const owner = await server.createOwner({ appNames: ['Kept'] });
    const app = owner.apps[0]!;
    const browser = await signedIn(owner);
    const refused = await submitForm(browser, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, {
      name: 'Past',
      permissions: 'app:read',
      expiresAt: '2001-01-01T00:00',
    });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(page).toMatch(/id="perm-app:read" name="permissions" value="app:read" checked/);
    expect(page).not.toMatch(/value="app:manage" checked/);
    expect(page).toMatch(/<p class="field-error" id="key-expires-error"><span class="visually-hidden">Error:<\/span> must be in the future<\/p><input id="key-expires"[^>]*value="2001-01-01T00:00" aria-invalid="true" aria-describedby="key-expires-error">/);
  });

  it('redirect URLs: the line is counted from 1, and what was typed stays', async () => {
    const developer = await server.createOwner({ appNames: ['Sandbox'] });
    const browser = await signedIn(developer);
    const typed = 'https://ok.example/callback\nnot a url';
    const refused = await submitForm(browser, '/partners', '/partners', {
      name: 'Lines',
      redirectUris: typed,
      permissions: 'app:read',
    });
    expect(refused.status).toBe(400);
    const page = await refused.text();
    expect(text(page)).toContain('Redirect URLs: line 2: must be an absolute URL');
    expect(page).toContain(`>${typed}</textarea>`);
    expect(page).toMatch(/id="perm-app:read" name="permissions" value="app:read" checked/);
  });

  it('a key shows an IPv6 range as it was typed, not expanded', async () => {
    const owner = await server.createOwner({ appNames: ['Ranges'] });
    const app = owner.apps[0]!;
    const browser = await signedIn(owner);
    await submitForm(browser, `/dashboard/apps/${app.id}`, `/dashboard/apps/${app.id}/keys`, {
      name: 'Ranged',
      permissions: 'app:read',
      allowedIps: '2001:db8::/32',
    });
    const page = text(await (await browser.get(`/dashboard/apps/${app.id}`)).text());
    expect(page).toContain('2001:db8::/32');
    expect(page).not.toContain('2001:db8:0:0');
  });
});
