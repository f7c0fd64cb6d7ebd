import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { createClusterDatabase, directConnection, seedWorld, type World } from '../support/fault-world.ts';
import { logInToDashboard, ownerCookie } from '../support/owner-web.ts';
import { createCluster, freePort, type Cluster } from '../support/postgres-cluster.ts';
import { killAllServers, spawnServer } from '../support/server-process.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * The database stopped, then frozen (SIGSTOP: connections stay open and
 * nothing answers): every request is answered, quickly, 503 with
 * Retry-After in the shape its client parses; /readyz within one second;
 * and the service recovers by itself once the database is back.
 */
const deadlines = { DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '1500', DATABASE_ACQUIRE_TIMEOUT_MS: '1000' };
/** The longest a request may wait for a frozen database: acquire, connect and statement deadlines, plus the machine's slack. */
const slowestAnswerMs = 1000 + 1000 + 1500 + 1500;

interface Answer {
  what: string;
  status: number;
  ms: number;
  retryAfter: string | null;
  type: string;
  body: string;
}

describe('the database stops and freezes under a running server', () => {
  let cluster: Cluster | undefined;
  let db: Knex | undefined;
  let base = '';
  let world: World;
  let tokens: { access_token: string };
  let session = '';

  beforeAll(async () => {
    cluster = await createCluster();
    await createClusterDatabase(cluster, 'appgrant');
    const port = await freePort();
    const server = spawnServer({ DATABASE_URL: cluster.url('appgrant'), PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, ...deadlines, ...keyEncryptionEnv });
    base = await server.ready;
    db = directConnection(cluster.url('appgrant'));
    world = await seedWorld(db);
    tokens = await oauthToken(base, world.partner, world.owner, world.apps[0]!.id);
    session = (await logInToDashboard(base, world.owner)).sessionCookie;
  }, 150_000);

  afterAll(async () => {
    await killAllServers();
    await db?.destroy();
    await cluster?.drop();
  }, 60_000);

  const timed = async (what: string, send: () => Promise<Response>): Promise<Answer> => {
    const started = performance.now();
    const response = await send();
    const body = await response.text();
    return { what, status: response.status, ms: performance.now() - started, retryAfter: response.headers.get('retry-after'), type: response.headers.get('content-type') ?? '', body };
  };
  const partnerAuth = () => basicAuth(world.partner.id, world.partner.secret);
  const form = (path: string, fields: Record<string, string>) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { authorization: partnerAuth(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  const page = (path: string, cookie = '') => fetch(`${base}${path}`, { headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) }, redirect: 'manual' });

  /** One of each kind of request, all at once. */
  const everyKind = () =>
    Promise.all([
      timed('readyz', () => fetch(`${base}/readyz`)),
      timed('v2 basic', () => fetch(`${base}/v2/apps/${world.apps[0]!.id}`, { headers: { authorization: basic(world.key), accept: 'application/json' } })),
      timed('v2 bearer', () => fetch(`${base}/v2/apps/${world.apps[0]!.id}`, { headers: { authorization: `Bearer ${tokens.access_token}` } })),
      // A code that was never issued: the client is authenticated and the code looked up, and nothing changes.
      timed('token', () => form('/oauth/token', { grant_type: 'authorization_code', code: 'never-issued', redirect_uri: 'https://partner.example/callback' })),
      timed('introspect', () => form('/oauth/introspect', { token: tokens.access_token })),
      timed('revoke', () => form('/oauth/revoke', { token: 'not-a-token-of-ours' })),
      timed('authorize page', () => page(`/oauth/authorize?${new URLSearchParams({ client_id: world.partner.id, response_type: 'code' })}`)),
      timed('dashboard page', () => page('/dashboard', `${ownerCookie}=${session}`)),
    ]);

  const expectUnavailable = (answers: Answer[]) => {
    const report = JSON.stringify(answers, null, 1);
    for (const answer of answers) {
      expect(answer.status, `${answer.what}: ${report}`).toBe(503);
      expect(answer.ms, `${answer.what} took too long: ${report}`).toBeLessThan(answer.what === 'readyz' ? 1000 : slowestAnswerMs);
      if (answer.what === 'readyz') continue;
      expect(Number(answer.retryAfter), `${answer.what} Retry-After: ${report}`).toBeGreaterThan(0);
      if (answer.what.startsWith('v2')) {
        expect(JSON.parse(answer.body), answer.what).toEqual({ errors: [{ code: 'service_unavailable', title: expect.any(String) }] });
      } else if (answer.what.endsWith('page')) {
        expect(answer.type, answer.what).toMatch(/^text\/html/);
        expect(answer.body, answer.what).toContain('Temporarily unavailable');
      } else {
        expect(JSON.parse(answer.body), answer.what).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      }
    }
  };

  /** Back to normal without a restart of appgrant: ready again, and requests succeed. */
  const expectRecovery = async () => {
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${base}/readyz`)).status !== 200) {
      expect(Date.now(), 'ready again within 20 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answers = await everyKind();
    const statuses = Object.fromEntries(answers.map((answer) => [answer.what, answer.status]));
    expect(statuses, JSON.stringify(answers)).toEqual({
      readyz: 200,
      'v2 basic': 200,
      'v2 bearer': 200,
      token: 400,
      introspect: 200,
      revoke: 200,
      // The engine sends the browser on to the login page.
      'authorize page': 303,
      'dashboard page': 200,
    });
  };

  it('everything answers as usual before the outage', async () => {
    await expectRecovery();
  });

  it('database stopped: 503 at once, in every shape; back by itself after a restart', async () => {
    await cluster!.stop();
    try {
      expectUnavailable(await everyKind());
      // Again, with the pool now empty: still refused at once.
      expectUnavailable(await everyKind());
    } finally {
      await cluster!.start();
    }
    await expectRecovery();
  });

  it('database frozen: /readyz within one second, everything else 503 within its deadlines; back by itself on thaw', async () => {
    // Warm connections in the pool, which the freeze leaves open and silent.
    await everyKind();
    cluster!.freeze();
    try {
      expectUnavailable(await everyKind());
      expectUnavailable(await everyKind());
    } finally {
      cluster!.thaw();
    }
    await expectRecovery();
  });
});
