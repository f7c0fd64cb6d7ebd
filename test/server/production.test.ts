import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { text } from '../support/browser.ts';
import { insertFirstApproval } from '../../src/authorizations/authorizations.ts';
import { appKey, basic, keyEncryptionEnv } from '../support/credentials.ts';
import { eventually, startNoticeReceiver } from '../support/notices.ts';
import { logInToDashboard, submitForm } from '../support/owner-web.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * NODE_ENV=production (README, Configuration): every response carries HSTS,
 * no demo data is ever seeded, development allowances are refused at start,
 * and outbound calls are https only. The image and the compose file run
 * in production mode.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const cookieKeys = 'cookie-key-of-the-production-test-0123456789';
const productionEnv = {
  NODE_ENV: 'production',
  ISSUER: 'https://127.0.0.1:0',
  OUTBOUND_ALLOW_PRIVATE_TARGETS: 'false',
  // Unset, as an operator leaves it: production must not seed the demo on its own.
  SEED_DEMO: '',
  NOTICE_POLL_INTERVAL_MS: '100',
  // Production refuses to start without a way to keep /metrics private.
  METRICS_TOKEN: 'metrics-token-for-the-production-test-0123456789',
  COOKIE_KEYS: cookieKeys,
  ...keyEncryptionEnv,
};
const hsts = 'max-age=31536000; includeSubDomains';

let production: TestServer;
let development: TestServer;

beforeAll(async () => {
  [production, development] = await Promise.all([startTestServer(productionEnv), startTestServer(keyEncryptionEnv)]);
}, 180_000);

afterAll(async () => {
  await Promise.all([production?.close(), development?.close()]);
});

const requests: [string, string, RequestInit?][] = [
  ['GET', '/healthz'],
  ['GET', '/login'],
  ['GET', '/.well-known/oauth-authorization-server'],
  ['GET', '/v2/apps'],
  ['GET', '/no/such/page'],
  ['POST', '/oauth/token', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nonsense' }],
  ['GET', '/oauth/authorize?client_id=nobody&response_type=code'],
];

describe('Strict-Transport-Security', () => {
  it.each(requests)('production: %s %s carries it, whatever the status', async (method, path, init) => {
    const response = await fetch(`${production.url}${path}`, { method, redirect: 'manual', ...init });
    expect(response.headers.get('strict-transport-security'), `${response.status}`).toBe(hsts);
  });

  it('development: not sent (it would pin http://localhost browsers to https)', async () => {
    for (const [method, path, init] of requests) {
      const response = await fetch(`${development.url}${path}`, { method, redirect: 'manual', ...init });
      expect(response.headers.get('strict-transport-security'), path).toBeNull();
    }
  });
});

describe('demo data', () => {
  it('is not seeded in production: no account, and the demo partner is unknown', async () => {
    expect(Number(((await production.db('accounts').count({ n: '*' }).first()) as { n: string }).n)).toBe(0);
    expect(await production.db('partners').where({ id: 'ptn_demo' }).first()).toBeUndefined();
    const authorize = await fetch(`${production.url}/oauth/authorize?client_id=ptn_demo&response_type=code`, { redirect: 'manual' });
    expect(authorize.status).toBe(400);
  });

  /** Starts `node src/server/main.ts` as an operator would, and returns how it exited. */
  function startProcess(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'src', 'server', 'main.ts')], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject).on('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, stderr });
      });
    });
  }

  it.each([
    ['SEED_DEMO=true', { SEED_DEMO: 'true' }, 'SEED_DEMO: demo data (with published passwords and secrets) is never seeded in production'],
    ['OUTBOUND_ALLOW_PRIVATE_TARGETS=true', { OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true' }, 'OUTBOUND_ALLOW_PRIVATE_TARGETS: is for development and tests only, never production'],
    // Cookie keys come from configuration in production, never from the database.
    ['COOKIE_KEYS unset', { COOKIE_KEYS: '' }, 'COOKIE_KEYS: required in production (comma-separated keys of at least 32 characters that sign cookies)'],
  ])('%s is refused at start in production (exit 2, the variable named)', async (_name, extra, message) => {
    const { code, stderr } = await startProcess({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com', COOKIE_KEYS: cookieKeys, ...keyEncryptionEnv, ...extra });
    expect(code).toBe(2);
    expect(stderr).toBe(`appgrant: invalid configuration: ${message}\n`);
  });
});

describe('outbound calls are https only', () => {
  it('the portal refuses an http removal notice URL', async () => {
    const owner = await production.createOwner();
    const { browser } = await logInToDashboard(production.url, { email: owner.account.email, password: owner.password });
    const response = await submitForm(browser, '/partners', '/partners', {
      name: 'Plain http',
      redirectUris: 'https://partner.example/callback',
      removeUrl: 'http://partner.example/removed',
    });
    expect(response.status).toBe(400);
    expect(text(await response.text())).toContain('Removal notice URL: must use https');
    expect(await production.db('partners').where({ account_id: owner.account.id })).toEqual([]);
  });

  it('a stored http URL is refused at delivery, and nothing connects', async () => {
    const target = await startNoticeReceiver();
    try {
      // The authorization an owner's approval records (the flow itself would redirect to the https issuer).
      const owner = await production.createOwner();
      const app = owner.apps[0]!;
      const { partner } = await production.createPartner({ permissions: ['app:read'] });
      await insertFirstApproval(production.db, { partnerId: partner.id, appId: app.id, accountId: owner.account.id, grantId: 'grant-of-an-approval', permissions: ['app:read'] });
      await production.db('partners').where({ id: partner.id }).update({ remove_url: `${target.url}/removed` });
      // Deleting the app removes the integration from it, which queues the notice.
      const removed = await fetch(`${production.url}/v2/apps/${app.id}`, { method: 'DELETE', headers: { authorization: basic(await appKey(production.db, app)) } });
      expect(removed.status).toBe(200);
      const row = await eventually(async () => {
        const found = await production.db('removal_notices').where({ partner_id: partner.id }).first();
        return found?.failed_at ? found : undefined;
      }, 15_000, 'the notice to be marked failed');
      expect(row).toMatchObject({ delivered_at: null, attempts: 1, last_error: 'refused: must use https' });
      expect(target.connections()).toBe(0);
    } finally {
      await target.close();
    }
  });
});

describe('the image and the compose file run in production mode', () => {
  it('Dockerfile sets NODE_ENV=production', () => {
    const lines = readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n').filter((line) => /^\s*ENV\s+NODE_ENV[= ]/.test(line));
    expect(lines.map((line) => line.trim())).toEqual(['ENV NODE_ENV=production']);
  });

  it('docker-compose.yml gives the service NODE_ENV=production', () => {
    type Service = { build?: string | { context?: string }; environment?: Record<string, string> };
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
    // The services built from this repository's Dockerfile (not PgBouncer's image, say).
    const context = (service: Service) => (typeof service.build === 'string' ? service.build : service.build?.context);
    const built = Object.values(compose.services).filter((service) => ['.', './'].includes(context(service) ?? ''));
    expect(built.length).toBeGreaterThan(0);
    for (const service of built) expect(service.environment?.NODE_ENV).toBe('production');
  });
});
