import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { CookieBrowser, field, formAction } from '../support/browser.ts';
import { box, call, keyEncryptionEnv } from '../support/credentials.ts';
import { exchangeCode, introspect, tokenBody } from '../support/flow.ts';
import { logInToDashboard } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * A partner marks permissions optional; on the consent page an owner may
 * leave those out and allow the rest; the token's scope, introspection and
 * /v2/credentials/current show what was granted.
 */

let server: TestServer;
let partner: { id: string; secret: string };

const operator = (argv: string[]) => runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);

beforeAll(async () => {
  server = await startTestServer(keyEncryptionEnv);
  const created = await createPartner(server.db, passwordHasherFor(server.settings), server.settings, {
    name: 'HelpDesk Pro',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read', 'events:read'],
  });
  partner = { id: created.partner.id, secret: created.clientSecret };
  await operator(['partner', 'update', partner.id, '--optional-permission', 'events:read']);
});

afterAll(async () => {
  await server?.close();
});

/** An owner walks the flow and answers the consent page with these extra fields; the tokens the partner then gets. */
async function consentWith(fields: Record<string, string | string[]>) {
  const owner = await server.createOwner();
  const browser = new CookieBrowser(server.url);
  const follow = async (response: Response) => {
    for (let hops = 0; hops < 6 && response.status >= 300 && response.status < 400; hops += 1) {
      const location = new URL(response.headers.get('location')!, server.url);
      if (location.origin !== server.url) return { response, location };
      response = await browser.get(`${location.pathname}${location.search}`);
    }
    return { response, location: undefined };
  };
  let { response } = await follow(await browser.get(`/oauth/authorize?${new URLSearchParams({ client_id: partner.id, response_type: 'code' })}`));
  let page = await response.text();
  ({ response } = await follow(await browser.post(formAction(page, '/login'), { _csrf: field(page, '_csrf') ?? '', email: owner.account.email, password: owner.password })));
  page = await response.text();
  if (!page.includes('name="decision"')) page = await (await browser.get(`${new URL(response.url).pathname}?app=${owner.apps[0]!.id}`)).text();
  const body = new URLSearchParams({ _csrf: field(page, '_csrf') ?? '', app: owner.apps[0]!.id, decision: 'allow' });
  for (const [name, value] of Object.entries(fields)) for (const one of [value].flat()) body.append(name, one);
  const posted = await browser.request(formAction(page, '/consent'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  const { location } = await follow(posted);
  const code = location?.searchParams.get('code');
  expect(code, String(location)).toBeTruthy();
  const tokens = await tokenBody(await exchangeCode(server.url, partner, { code: code! }));
  return { page, tokens, owner, appId: owner.apps[0]!.id };
}

describe('optional permissions', () => {
  it('the consent page offers to leave out only the optional ones', async () => {
    const { page } = await consentWith({});
    expect(page).toContain('name="leaveOut" value="events:read"');
    expect(page).not.toContain('name="leaveOut" value="app:read"');
  });

  it('left out: the token, introspection and /v2/credentials/current show only what was granted', async () => {
    const { tokens, appId, owner } = await consentWith({ leaveOut: 'events:read' });
    expect(tokens.scope).toBe('app:read');
    expect((await introspect(server.url, partner, tokens.access_token)).scope).toBe('app:read');
    const auth = `Bearer ${tokens.access_token}`;
    const current = (await (await call(server.url, 'GET', '/v2/credentials/current', { auth })).json()) as { credential: { permissions: string[] } };
    expect(current.credential.permissions).toEqual(['app:read']);
    expect((await call(server.url, 'GET', `/v2/apps/${appId}/events`, { auth })).status).toBe(403);
    // Left out at consent is no request for more access later.
    const { browser } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password });
    expect(await (await browser.get('/dashboard')).text()).not.toContain('asks for more access');
  });

  it('kept: everything asked for is granted', async () => {
    const { tokens } = await consentWith({});
    expect(tokens.scope).toBe('app:read events:read');
  });

  it('a required permission cannot be left out', async () => {
    const { tokens } = await consentWith({ leaveOut: ['app:read', 'events:read'] });
    expect(tokens.scope).toBe('app:read');
  });

  it('only a permission the partner asks for can be optional', async () => {
    await expect(operator(['partner', 'update', partner.id, '--optional-permission', 'app:manage'])).rejects.toThrow(UsageError);
    expect((await server.db('partners').where({ id: partner.id }).first()).optional_permissions).toEqual(['events:read']);
  });
});
