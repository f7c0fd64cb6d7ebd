import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieBrowser, text } from '../support/browser.ts';
import { authorizeThroughPages, exchangeCode, followable, tokenBody } from '../support/flow.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Another owner signing in in the middle of an "Add to app" flow (the
 * partner sent prompt=login, or someone else uses the same browser): the
 * previous owner's session ends and the flow goes on as the new owner.
 */

let server: TestServer;
let first: Awaited<ReturnType<TestServer['createOwner']>>;
let second: Awaited<ReturnType<TestServer['createOwner']>>;
let partner: { id: string; secret: string };

beforeAll(async () => {
  server = await startTestServer();
  first = await server.createOwner({ appNames: ['First App'] });
  second = await server.createOwner({ appNames: ['Second App'] });
  const created = await server.createPartner();
  partner = { id: created.partner.id, secret: created.clientSecret };
});

afterAll(async () => {
  await server?.close();
});

const credentials = (owner: typeof first) => ({ email: owner.account.email, password: owner.password });

async function engineSessionsOf(accountId: string): Promise<number> {
  const rows = await server.db('oauth_records').where({ kind: 'Session' }).whereRaw("payload->>'accountId' = ?", [accountId]);
  return rows.length;
}

describe('prompt=login as another owner', () => {
  it('ends the previous owner’s session and issues the code for the new owner’s app', async () => {
    const browser = new CookieBrowser(server.url);
    const firstCallback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials(first));
    expect((await tokenBody(await exchangeCode(server.url, partner, { code: firstCallback.searchParams.get('code')! }))).app_id).toBe(first.apps[0]!.id);
    expect(await engineSessionsOf(first.account.id)).toBe(1);

    const callback = await authorizeThroughPages(
      browser,
      { client_id: partner.id, response_type: 'code', prompt: 'login', state: 'switch' },
      credentials(second),
    );
    expect(callback.searchParams.get('state')).toBe('switch');
    const body = await tokenBody(await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! }));
    expect(body.app_id).toBe(second.apps[0]!.id);
    expect(await engineSessionsOf(first.account.id)).toBe(0);
    expect(await engineSessionsOf(second.account.id)).toBe(1);

    // The browser is now the second owner's: a new flow goes straight to their consent page.
    const again = await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code' })}`);
    const interaction = await browser.get(followable(again, server.url));
    const page = text(await interaction.text());
    expect(page).toContain('Second App');
    expect(page).not.toContain('First App');
  });

  it('keeps the session when the same owner signs in again', async () => {
    const browser = new CookieBrowser(server.url);
    await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code' }, credentials(first));
    const callback = await authorizeThroughPages(browser, { client_id: partner.id, response_type: 'code', prompt: 'login' }, credentials(first));
    const body = await tokenBody(await exchangeCode(server.url, partner, { code: callback.searchParams.get('code')! }));
    expect(body.app_id).toBe(first.apps[0]!.id);
  });
});
