import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oauthToken } from '../support/credentials.ts';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.ts';
import { checkNoticeSignature, eventually, startNoticeReceiver, type NoticeReceiver, type ReceiverOptions } from '../support/notices.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { localhostCertificate, trustInThisProcess } from '../support/test-certificates.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * Removal notices go out through the guarded outbound client (src/outbound):
 * the URL stored for a partner is checked again at delivery, its host
 * resolved and every address checked, and the connection made to the
 * checked address only; no redirect is followed, answers are bounded in
 * size and time, and an egress proxy carries every call when one is set.
 * Every receiver and proxy here listens on loopback: a refused notice is
 * proven by a receiver that saw no connection at all.
 */

const noticeEnv = { NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '100', NOTICE_MAX_ATTEMPTS: '1', NOTICE_TIMEOUT_MS: '1000' };

const started: { close(): Promise<void> }[] = [];
let guarded: TestServer;
let open: TestServer;
let proxy: ConnectProxy;
let proxied: TestServer;
let guardedProxy: ConnectProxy;
let guardedProxied: TestServer;
const certificate = localhostCertificate();

beforeAll(async () => {
  proxy = await startConnectProxy();
  guardedProxy = await startConnectProxy();
  started.push(proxy, guardedProxy);
  [guarded, open, proxied, guardedProxied] = await Promise.all([
    startTestServer({ ...noticeEnv, OUTBOUND_ALLOW_PRIVATE_TARGETS: 'false' }),
    startTestServer(noticeEnv),
    startTestServer({ ...noticeEnv, OUTBOUND_PROXY_URL: proxy.url.replace('http://', 'http://egress:pa%24%24word@') }),
    startTestServer({ ...noticeEnv, OUTBOUND_ALLOW_PRIVATE_TARGETS: 'false', OUTBOUND_PROXY_URL: guardedProxy.url }),
  ]);
  started.push(guarded, open, proxied, guardedProxied);
  // The https receivers' certificate is trusted as a root by this process, the servers' own.
  trustInThisProcess(certificate.cert);
}, 240_000);

afterAll(async () => {
  await Promise.all(started.map((item) => item.close()));
});

async function receiver(options: ReceiverOptions = {}): Promise<NoticeReceiver> {
  const receiving = await startNoticeReceiver(options);
  started.push(receiving);
  return receiving;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Removal {
  partnerId: string;
  appId: string;
  authorizationId: string;
}

/**
 * An owner connects a partner through the real flow; the partner's stored
 * removeUrl is then set in the database (as a URL saved before the rules, or
 * whose name now resolves elsewhere, would be), and the partner removes itself.
 */
async function removeWithStoredUrl(server: TestServer, removeUrl: string): Promise<Removal> {
  const owner = await server.createOwner();
  const appId = owner.apps[0]!.id;
  const { partner, clientSecret } = await server.createPartner({ permissions: ['app:read'] });
  const tokens = await oauthToken(server.url, { id: partner.id, secret: clientSecret }, { email: owner.account.email, password: owner.password }, appId);
  await server.db('partners').where({ id: partner.id }).update({ remove_url: removeUrl });
  const authorization = await server.db('authorizations').where({ partner_id: partner.id, app_id: appId }).whereNull('revoked_at').first();
  const response = await fetch(`${server.url}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.access_token}` } });
  expect(response.status).toBe(204);
  return { partnerId: partner.id, appId, authorizationId: authorization.id };
}

/** The notice row once it is delivered or given up on. */
function settledNotice(server: TestServer, removal: Removal) {
  return eventually(async () => {
    const row = await server.db('removal_notices').where({ authorization_id: removal.authorizationId }).first();
    return row?.delivered_at || row?.failed_at ? row : undefined;
  }, 15_000, 'the notice to be delivered or marked failed');
}

describe('with OUTBOUND_ALLOW_PRIVATE_TARGETS off, a stored URL reaching this machine is never called', () => {
  it.each([
    ['http://127.0.0.1:{v4}/internal/admin?action=flush', '127.0.0.1 is a loopback address'],
    ['http://2130706433:{v4}/removed', '127.0.0.1 is a loopback address'],
    ['http://0x7f.1:{v4}/removed', '127.0.0.1 is a loopback address'],
    ['http://017700000001:{v4}/removed', '127.0.0.1 is a loopback address'],
    ['http://127.1:{v4}/removed', '127.0.0.1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]:{v4}/removed', '[::ffff:7f00:1] is IPv4-mapped 127.0.0.1, a loopback address'],
    ['http://0.0.0.0:{v4}/removed', '0.0.0.0 is an unspecified address'],
    ['http://[::1]:{v6}/removed', '[::1] is a loopback address'],
    // A name is resolved at delivery and every address it has is checked.
    ['http://localhost:{v4}/removed', 'localhost resolves to 127.0.0.1, a loopback address'],
  ])('%s', async (template, reason) => {
    const v4 = await receiver();
    const v6 = await receiver({ host: '::1' });
    const removal = await removeWithStoredUrl(guarded, template.replace('{v4}', String(v4.port)).replace('{v6}', String(v6.port)));
    const row = await settledNotice(guarded, removal);
    expect(row).toMatchObject({ delivered_at: null, attempts: 1, last_error: `refused: ${reason}` });
    expect(row.failed_at, 'a refused target is not retried').toBeInstanceOf(Date);
    await sleep(300);
    expect(v4.connections() + v6.connections(), 'no connection reached a receiver').toBe(0);
  });

  it('refuses before the egress proxy is asked for anything', async () => {
    const target = await receiver();
    const removal = await removeWithStoredUrl(guardedProxied, `http://localhost:${target.port}/removed`);
    const row = await settledNotice(guardedProxied, removal);
    expect(row.last_error).toBe('refused: localhost resolves to 127.0.0.1, a loopback address');
    expect(guardedProxy.tunnels).toEqual([]);
    expect(target.connections()).toBe(0);
  });
});

describe('what a target may answer', () => {
  it('a redirect is not followed', async () => {
    const elsewhere = await receiver();
    const redirecting = await receiver({ fallback: { status: 302, headers: { location: `${elsewhere.url}/removed` } } });
    const removal = await removeWithStoredUrl(open, `${redirecting.url}/removed`);
    const row = await settledNotice(open, removal);
    expect(row).toMatchObject({ delivered_at: null, last_error: 'HTTP 302 (redirects are not followed)' });
    expect(redirecting.received).toHaveLength(1);
    await sleep(300);
    expect(elsewhere.connections()).toBe(0);
  });

  it('an answer that never ends is cut off after 64 KiB', async () => {
    const flooding = await receiver({ fallback: { status: 200, endless: 'flood' } });
    const removal = await removeWithStoredUrl(open, `${flooding.url}/removed`);
    const row = await settledNotice(open, removal);
    expect(row).toMatchObject({ delivered_at: null, last_error: 'the answer was larger than 65536 bytes' });
    await eventually(async () => flooding.cutOff.length === 1, 5000, 'the connection to be closed');
    // Cut off on size, well before the 1000 ms the call may take.
    expect(flooding.cutOff[0]! - flooding.received[0]!.at).toBeLessThan(900);
  });

  it('an answer that trickles in is cut off at NOTICE_TIMEOUT_MS', async () => {
    const trickling = await receiver({ fallback: { status: 200, endless: 'trickle' } });
    const removal = await removeWithStoredUrl(open, `${trickling.url}/removed`);
    const row = await settledNotice(open, removal);
    expect(row).toMatchObject({ delivered_at: null, last_error: 'timed out after 1000 ms' });
    await eventually(async () => trickling.cutOff.length === 1, 5000, 'the connection to be closed');
    const held = trickling.cutOff[0]! - trickling.received[0]!.at;
    expect(held).toBeGreaterThanOrEqual(900);
    expect(held).toBeLessThan(2500);
  });

  it('an answer slower than NOTICE_TIMEOUT_MS times out', async () => {
    const slow = await receiver({ fallback: { status: 200, delayMs: 3000 } });
    const removal = await removeWithStoredUrl(open, `${slow.url}/removed`);
    const row = await settledNotice(open, removal);
    expect(row).toMatchObject({ delivered_at: null, last_error: 'timed out after 1000 ms' });
  });

  it('https: delivered when the certificate verifies for the URL host, refused when it does not', async () => {
    const trusted = await receiver({ tls: certificate });
    const delivered = await settledNotice(open, await removeWithStoredUrl(open, `${trusted.url}/removed`));
    expect(delivered).toMatchObject({ failed_at: null, last_error: null, attempts: 1 });
    const [notice] = trusted.received;
    expect(notice!.headers.host).toBe(`localhost:${trusted.port}`);
    expect((await checkNoticeSignature(open.url, notice!.headers['appgrant-signature'], notice!.body)).valid).toBe(true);

    const selfSigned = await receiver({ tls: localhostCertificate() });
    const refused = await settledNotice(open, await removeWithStoredUrl(open, `${selfSigned.url}/removed`));
    expect(refused).toMatchObject({ delivered_at: null, last_error: 'network error: self-signed certificate' });
    expect(selfSigned.received).toEqual([]);
  });
});

describe('OUTBOUND_PROXY_URL: every notice goes through the egress proxy', () => {
  it('http: a tunnel to the checked address, with the proxy credentials', async () => {
    const target = await receiver();
    const before = proxy.tunnels.length;
    const row = await settledNotice(proxied, await removeWithStoredUrl(proxied, `http://localhost:${target.port}/removed`));
    expect(row).toMatchObject({ failed_at: null, last_error: null });
    const tunnels = proxy.tunnels.slice(before);
    // The name was resolved and checked here; the proxy is given the address, so it cannot resolve it differently.
    expect(tunnels.map((tunnel) => tunnel.target)).toEqual([`127.0.0.1:${target.port}`]);
    expect(tunnels[0]!.headers['proxy-authorization']).toBe(basicAuth('egress:pa$$word'));
    expect(target.received).toHaveLength(1);
    expect(target.received[0]!.headers.host).toBe(`localhost:${target.port}`);
    expect((await checkNoticeSignature(proxied.url, target.received[0]!.headers['appgrant-signature'], target.received[0]!.body)).valid).toBe(true);
  });

  it('https: TLS runs end to end through the tunnel', async () => {
    const target = await receiver({ tls: certificate });
    const before = proxy.tunnels.length;
    const row = await settledNotice(proxied, await removeWithStoredUrl(proxied, `${target.url}/removed`));
    expect(row).toMatchObject({ failed_at: null, last_error: null });
    expect(proxy.tunnels.slice(before).map((tunnel) => tunnel.target)).toEqual([`127.0.0.1:${target.port}`]);
    expect(target.received).toHaveLength(1);
  });

  it('a tunnel the proxy refuses is a failed delivery, and nothing reaches the target', async () => {
    const target = await receiver();
    proxy.refusePorts.add(target.port);
    const row = await settledNotice(proxied, await removeWithStoredUrl(proxied, `${target.url}/removed`));
    expect(row).toMatchObject({ delivered_at: null, last_error: 'the egress proxy refused the connection (HTTP 403)' });
    expect(target.connections()).toBe(0);
  });
});
