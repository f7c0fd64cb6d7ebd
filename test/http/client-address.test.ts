import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.ts';
import { CookieBrowser, field } from '../support/browser.ts';
import { appKey, basic, call, expectForbidden, keyEncryptionEnv } from '../support/credentials.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Which address is the client (README, TRUST_PROXY): X-Forwarded-For is
 * believed only from trusted proxies, read from the right, and the first
 * address that is not a trusted proxy is the client; IPv4-mapped IPv6 is
 * compared as IPv4. The test client connects from 127.0.0.1 and plays the
 * proxy when the server trusts it. Checked through what depends on it: a
 * key's allowed IP ranges, the per-address login limit, Secure cookies.
 */

const forged = '203.0.113.7, 198.51.100.23';

const limits = { LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' };
let oneHop: TestServer;
let twoHops: TestServer;
/** Trusts 127.0.0.1 and 10/8, listening dual-stack, so its peer shows as ::ffff:127.0.0.1. */
let ranges: TestServer;
/** Trusts 10/8 only: the test client is not one of its proxies. */
let elsewhere: TestServer;
let direct: TestServer;

beforeAll(async () => {
  const environments: Record<string, string>[] = [
    { TRUST_PROXY: '1', ...limits },
    { TRUST_PROXY: '2' },
    { TRUST_PROXY: '127.0.0.1/32, 10.0.0.0/8', HOST: '::ffff:127.0.0.1' },
    { TRUST_PROXY: '10.0.0.0/8' },
    { TRUST_PROXY: 'false', ...limits },
  ];
  [oneHop, twoHops, ranges, elsewhere, direct] = (await Promise.all(environments.map((env) => startTestServer({ ...keyEncryptionEnv, ...env })))) as [
    TestServer, TestServer, TestServer, TestServer, TestServer,
  ];
}, 240_000);

afterAll(async () => {
  await Promise.all([oneHop, twoHops, ranges, elsewhere, direct].map((running) => running?.close()));
});

/** GET /v2/apps/{id} with an app key limited to `allowedIps`, sending these forwarded headers. */
async function callWithKey(target: TestServer, allowedIps: string[], forwardedFor?: string): Promise<Response> {
  const owner = await target.createOwner();
  const app = owner.apps[0]!;
  const key = await appKey(target.db, app, { allowedIps });
  return call(target.url, 'GET', `/v2/apps/${app.id}`, { auth: basic(key), headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
}

describe('TRUST_PROXY=1: one proxy in front, the client is the rightmost forwarded address', () => {
  it(`X-Forwarded-For: ${forged} is 198.51.100.23, so a key limited to 203.0.113.7/32 is refused`, async () => {
    await expectForbidden(await callWithKey(oneHop, ['203.0.113.7/32'], forged));
    expect((await callWithKey(oneHop, ['198.51.100.23/32'], forged)).status).toBe(200);
  });

  it('the proxy itself (the socket peer) is not the client', async () => {
    await expectForbidden(await callWithKey(oneHop, ['127.0.0.1/32'], '198.51.100.23'));
  });

  it('an IPv4-mapped forwarded address is compared as IPv4, and a port on it is ignored', async () => {
    expect((await callWithKey(oneHop, ['198.51.100.23/32'], '::ffff:198.51.100.23')).status).toBe(200);
    expect((await callWithKey(oneHop, ['198.51.100.23/32'], '198.51.100.23:50123')).status).toBe(200);
    expect((await callWithKey(oneHop, ['2001:db8::/32'], '[2001:db8::7]:443')).status).toBe(200);
  });
});

describe('TRUST_PROXY=2: two proxies, the client is the second address from the right', () => {
  it('203.0.113.7, 198.51.100.23 is 203.0.113.7, and an address forged left of it changes nothing', async () => {
    expect((await callWithKey(twoHops, ['203.0.113.7/32'], forged)).status).toBe(200);
    expect((await callWithKey(twoHops, ['203.0.113.7/32'], `10.0.0.1, ${forged}`)).status).toBe(200);
    await expectForbidden(await callWithKey(twoHops, ['10.0.0.1/32'], `10.0.0.1, ${forged}`));
  });
});

describe('TRUST_PROXY as proxy CIDRs', () => {
  it('walks left past trusted proxies only: the first address outside them is the client', async () => {
    const chain = '203.0.113.7, 198.51.100.23, 10.1.2.3';
    expect((await callWithKey(ranges, ['198.51.100.23/32'], chain)).status).toBe(200);
    await expectForbidden(await callWithKey(ranges, ['203.0.113.7/32'], chain));
    await expectForbidden(await callWithKey(ranges, ['10.1.2.3/32'], chain));
  });

  it('a dual-stack socket reports the peer as ::ffff:127.0.0.1: it is compared as 127.0.0.1', async () => {
    expect(ranges.url).toMatch(/^http:\/\/\[::ffff:127\.0\.0\.1\]:\d+$/);
    expect((await callWithKey(ranges, ['198.51.100.23/32'], forged)).status).toBe(200);
    expect((await callWithKey(ranges, ['127.0.0.1/32'])).status).toBe(200);
  });

  it('a peer outside the ranges reaches the server directly: its forwarded headers are ignored', async () => {
    await expectForbidden(await callWithKey(elsewhere, ['198.51.100.23/32'], forged));
    expect((await callWithKey(elsewhere, ['127.0.0.1/32'], forged)).status).toBe(200);
  });
});

describe('TRUST_PROXY=false: forwarded headers are ignored', () => {
  it('the socket peer is the client whatever X-Forwarded-For says', async () => {
    await expectForbidden(await callWithKey(direct, ['203.0.113.7/32'], forged));
    await expectForbidden(await callWithKey(direct, ['198.51.100.23/32'], forged));
    expect((await callWithKey(direct, ['127.0.0.1/32'], forged)).status).toBe(200);
  });
});

describe('the per-address login limit', () => {
  /** Wrong passwords for new emails each time (so only the address limit can trip), with these forwarded headers. */
  async function guesses(target: TestServer, forwardedFor: () => string, count: number): Promise<number[]> {
    const browser = new CookieBrowser(target.url);
    const token = field(await (await browser.get('/login')).text(), '_csrf') ?? '';
    const statuses: number[] = [];
    for (let guess = 0; guess < count; guess += 1) {
      const response = await fetch(`${target.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: browser.cookieHeader(), 'x-forwarded-for': forwardedFor() },
        body: new URLSearchParams({ _csrf: token, email: `guess${guess}-${randomBytes(4).toString('hex')}@example.com`, password: 'a wrong guess' }),
      });
      statuses.push(response.status);
    }
    return statuses;
  }
  const randomAddress = () => `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

  it('behind one proxy, rotating what the client writes in X-Forwarded-For does not escape it', async () => {
    expect(await guesses(oneHop, () => `${randomAddress()}, 198.51.100.23`, 4)).toEqual([401, 401, 401, 429]);
  });

  it('with trust off, rotating the whole header does not escape it', async () => {
    expect(await guesses(direct, randomAddress, 4)).toEqual([401, 401, 401, 429]);
  });
});

describe('https behind the proxy (Secure cookies)', () => {
  async function csrfCookie(target: TestServer): Promise<string> {
    const response = await fetch(`${target.url}/login`, { headers: { 'x-forwarded-proto': 'https' } });
    return response.headers.getSetCookie().join('\n');
  }

  it('X-Forwarded-Proto is believed from a trusted proxy only', async () => {
    expect(await csrfCookie(ranges)).toMatch(/; secure/i);
    expect(await csrfCookie(elsewhere)).not.toMatch(/; secure/i);
    expect(await csrfCookie(direct)).not.toMatch(/; secure/i);
  });
});

describe('TRUST_PROXY values are validated at start', () => {
  it.each([
    ['11', /number of proxy hops \(1-10\)/],
    ['-1', /not an IP address or CIDR: -1/],
    ['10.0.0.0/33', /not an IP address or CIDR: 10\.0\.0\.0\/33/],
    ['proxy.internal', /not an IP address or CIDR: proxy\.internal/],
    ['0x7f.1', /not an IP address or CIDR: 0x7f\.1/],
  ])('%s is refused', (value, message) => {
    expect(() => loadSettings({ TRUST_PROXY: value })).toThrow(message);
    expect(() => loadSettings({ TRUST_PROXY: value })).toThrow(/^invalid configuration: TRUST_PROXY: /);
  });

  it.each([
    ['false', { kind: 'none' }],
    ['true', { kind: 'hops', hops: 1 }],
    ['3', { kind: 'hops', hops: 3 }],
    ['10.0.0.0/8, 2001:db8::/32', { kind: 'ranges', ranges: ['10.0.0.0/8', '2001:db8::/32'] }],
    ['::ffff:172.16.0.0/108', { kind: 'ranges', ranges: ['172.16.0.0/12'] }],
    ['192.0.2.10', { kind: 'ranges', ranges: ['192.0.2.10/32'] }],
  ])('%s is read as %j', (value, trust) => {
    expect(loadSettings({ TRUST_PROXY: value }).TRUST_PROXY).toEqual(trust);
  });
});
