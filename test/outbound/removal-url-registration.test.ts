import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, UsageError } from '../../src/cli/commands.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import type { CookieBrowser } from '../support/browser.ts';
import { text } from '../support/browser.ts';
import { box } from '../support/credentials.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The server POSTs to a partner's removeUrl, so registering one is checked
 * against the outbound rules (src/outbound) in the portal and in the CLI:
 * every spelling of a loopback, private, link-local, shared, multicast,
 * reserved or cloud metadata address, and names that can only point inside,
 * are refused with the reason, and nothing is stored. Nothing here connects
 * anywhere: registration only reads the URL.
 */

let server: TestServer;
let web: CookieBrowser;
let accountId: string;

beforeAll(async () => {
  server = await startTestServer({ OUTBOUND_ALLOW_PRIVATE_TARGETS: 'false' });
  const owner = await server.createOwner();
  accountId = owner.account.id;
  ({ browser: web } = await logInToDashboard(server.url, { email: owner.account.email, password: owner.password }));
});

afterAll(async () => {
  await server?.close();
});

const refused: [string, string][] = [
  ['http://127.0.0.1:8080/internal/admin?action=flush', '127.0.0.1 is a loopback address'],
  ['http://127.0.0.1:6379/', '127.0.0.1 is a loopback address'],
  ['http://2130706433/', '127.0.0.1 is a loopback address'],
  ['http://0x7f.1/', '127.0.0.1 is a loopback address'],
  ['http://017700000001/', '127.0.0.1 is a loopback address'],
  ['http://0177.0.0.1/', '127.0.0.1 is a loopback address'],
  ['http://127.1/', '127.0.0.1 is a loopback address'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
  ['http://169.254.1.1/', '169.254.1.1 is a link-local address'],
  ['https://168.63.129.16/machine', '168.63.129.16 is a cloud metadata address'],
  ['http://10.0.0.1/', '10.0.0.1 is a private address'],
  ['http://172.16.5.4/', '172.16.5.4 is a private address'],
  ['http://192.168.1.1/', '192.168.1.1 is a private address'],
  ['http://100.64.0.1/', '100.64.0.1 is a carrier-grade NAT (shared) address'],
  ['http://0.0.0.0/', '0.0.0.0 is an unspecified address'],
  ['http://0/', '0.0.0.0 is an unspecified address'],
  ['http://224.0.0.1/', '224.0.0.1 is a multicast address'],
  ['http://255.255.255.255/', '255.255.255.255 is a broadcast address'],
  ['http://192.0.2.10/', '192.0.2.10 is a reserved or documentation address'],
  ['http://[::1]/', '[::1] is a loopback address'],
  ['http://[::]/', '[::] is an unspecified address'],
  ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1] is IPv4-mapped 127.0.0.1, a loopback address'],
  ['http://[::ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe] is IPv4-mapped 169.254.169.254, a cloud metadata address'],
  ['http://[::127.0.0.1]/', '[::7f00:1] is IPv4-compatible 127.0.0.1, a deprecated form'],
  ['http://[64:ff9b::10.0.0.1]/', '[64:ff9b::a00:1] is NAT64 10.0.0.1, a private address'],
  ['http://[fc00::1]/', '[fc00::1] is a private (unique local) address'],
  ['http://[fd00:ec2::254]/', '[fd00:ec2::254] is a cloud metadata address'],
  ['http://[fe80::1]/', '[fe80::1] is a link-local address'],
  ['http://[ff02::1]/', '[ff02::1] is a multicast address'],
  ['http://[2001:db8::1]/', '[2001:db8::1] is a reserved or documentation address'],
  ['http://[2002:7f00:1::]/', '[2002:7f00:1::] is a special-purpose address (6to4)'],
  ['http://localhost:3000/', 'localhost is a loopback name'],
  ['http://LOCALHOST./', 'localhost. is a loopback name'],
  ['http://admin.localhost/', 'admin.localhost is a loopback name'],
  ['http://metadata.google.internal/computeMetadata/v1/', 'metadata.google.internal is a private-network name'],
  ['http://printer.local/', 'printer.local is a private-network name'],
  ['http://redis:6379/', 'redis is a single-label name, which resolves only on a local network'],
];

const malformed: [string, string][] = [
  ['ftp://partner.example/removed', 'must use http or https'],
  ['http://user:secret@partner.example/removed', 'must not contain credentials'],
  ['partner.example/removed', 'not an absolute URL'],
];

/** Posts the portal's registration form with this removeUrl. */
async function register(removeUrl: string, name = 'Probe'): Promise<Response> {
  return submitForm(web, '/partners', '/partners', {
    name,
    redirectUris: 'https://partner.example/callback',
    permissions: 'app:read',
    removeUrl,
  });
}

const partnersOfOwner = () => server.db('partners').where({ account_id: accountId });

describe('the partner portal refuses a removeUrl the server must not call (400, nothing stored)', () => {
  it.each([...refused, ...malformed])('%s', async (removeUrl, reason) => {
    const before = await partnersOfOwner();
    const response = await register(removeUrl);
    expect(response.status).toBe(400);
    const page = text(await response.text());
    const expected = refused.some(([url]) => url === removeUrl) ? `${reason}; removal notices go only to public addresses` : reason;
    expect(page).toContain(`Removal notice URL: ${expected}`);
    expect(await partnersOfOwner()).toEqual(before);
  });

  it('accepts a public https URL without resolving it', async () => {
    const response = await register('https://partner.example/removed', 'Public');
    expect(response.status).toBe(303);
    const stored = await server.db('partners').where({ account_id: accountId, name: 'Public' }).first();
    expect(stored.remove_url).toBe('https://partner.example/removed');
  });
});

describe('partner create in the CLI refuses the same URLs (exit 2, nothing stored)', () => {
  const context = () => ({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box });

  it.each([...refused, ...malformed])('%s', async (removeUrl, reason) => {
    const before = await server.db('partners').count({ count: '*' }).first();
    const run = runCommand(context(), ['partner', 'create', '--name', 'Cli probe', '--redirect-uri', 'https://partner.example/cb', '--permission', 'app:read', '--remove-url', removeUrl]);
    await expect(run).rejects.toBeInstanceOf(UsageError);
    await expect(run).rejects.toThrow(`removeUrl: ${reason}`);
    expect(await server.db('partners').count({ count: '*' }).first()).toEqual(before);
  });
});
