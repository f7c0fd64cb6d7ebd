import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import type { PasswordHasher } from '../../src/accounts/password-hasher.ts';
import { runCommand } from '../../src/cli/commands.ts';
import { revokeGrant } from '../../src/oauth/storage/grant-revocation.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { formAction, field } from '../support/browser.ts';
import { appKey, basic, box, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { introspect } from '../support/flow.ts';
import { checkNoticeSignature, eventually, reservePort, startNoticeReceiver, type NoticeReceiver, type ReceivedNotice } from '../support/notices.ts';
import { logInToDashboard, seedOwner } from '../support/owner-web.ts';
import { createDurableStore, startServerOnStore } from '../support/restart.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { basicAuth } from '../support/basic.ts';

/**
 * docs/contract.md, "The OAuth flow" step 7: after any removal of an authorization, the partner's
 * removeUrl receives a signed POST naming the app, retried with backoff until
 * it answers 2xx or a limit passes, and the removal itself never waits on it.
 */

const noticeEnv = { NOTICE_POLL_INTERVAL_MS: '100', NOTICE_RETRY_BASE_MS: '100' };

let server: TestServer;
let hasher: PasswordHasher;
const receivers: NoticeReceiver[] = [];

beforeAll(async () => {
  server = await startTestServer({ ...noticeEnv, NOTICE_MAX_ATTEMPTS: '3', ...keyEncryptionEnv });
  hasher = passwordHasherFor(server.settings);
});

afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await server?.close();
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function receiver(options: Parameters<typeof startNoticeReceiver>[0] = {}): Promise<NoticeReceiver> {
  const started = await startNoticeReceiver(options);
  receivers.push(started);
  return started;
}

interface Connected {
  appId: string;
  owner: { email: string; password: string };
  client: { id: string; secret: string };
  tokens: { access_token: string; refresh_token: string };
  authorizationId: string;
}

/** A partner (with or without a removeUrl) that an owner connected to one app through the real flow. */
async function connectPartner(
  base: string,
  db: Knex,
  removeUrl: string | undefined,
  owner?: { email: string; password: string; appId: string },
): Promise<Connected> {
  const who = owner ?? (await (async () => {
    const seeded = await seedOwner(db, hasher, ['Support']);
    return { email: seeded.email, password: seeded.password, appId: seeded.apps[0]!.id };
  })());
  const { partner, clientSecret } = await createPartner(db, hasher, server.settings, {
    name: 'Notified Integration',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read'],
  });
  const client = { id: partner.id, secret: clientSecret };
  const tokens = await oauthToken(base, client, who, who.appId);
  // The notice URL is registered once the integration is installed, so the
  // removal's is the only notice these tests see (the installation's own
  // notice, and every other kind, are covered in partner-notices.test.ts).
  if (removeUrl) await db('partners').where({ id: partner.id }).update({ remove_url: removeUrl });
  const authorization = await db('authorizations').where({ partner_id: partner.id, app_id: who.appId }).whereNull('revoked_at').first();
  expect(authorization).toBeTruthy();
  return { appId: who.appId, owner: who, client, tokens, authorizationId: authorization.id };
}

/** Checks one received request is a well-formed, correctly signed notice for this removal. */
async function expectSignedNotice(issuer: string, notice: ReceivedNotice, connected: Connected): Promise<{ id: string }> {
  expect(notice.method).toBe('POST');
  expect(notice.path).toBe('/removed');
  expect(notice.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(notice.body) as Record<string, unknown>;
  expect(body, notice.body).toEqual({
    id: expect.stringMatching(/^ntc_/),
    event: 'integration.removed',
    appId: connected.appId,
    authorizationId: connected.authorizationId,
    clientId: connected.client.id,
    occurredAt: expect.any(String),
    removedAt: expect.any(String),
    cause: expect.any(String),
  });
  expect(Math.abs(Date.parse(body.removedAt as string) - Date.now())).toBeLessThan(60_000);

  const signature = await checkNoticeSignature(issuer, notice.headers['appgrant-signature'], notice.body);
  expect(signature.valid, `signature ${String(notice.headers['appgrant-signature'])} verifies with /oauth/jwks`).toBe(true);
  expect(Math.abs(signature.timestamp - Date.now() / 1000)).toBeLessThan(60);
  // The check is real: the same header does not verify another body.
  const forged = notice.body.replace(connected.appId, 'app_forged');
  expect((await checkNoticeSignature(issuer, notice.headers['appgrant-signature'], forged)).valid).toBe(false);
  return { id: body.id as string };
}

async function deliveredRow(db: Knex, authorizationId: string) {
  return eventually(
    async () => {
      const row = await db('removal_notices').where({ authorization_id: authorizationId }).first();
      return row?.delivered_at ? row : undefined;
    },
    10_000,
    `the notice for ${authorizationId} to be marked delivered`,
  );
}

/** Exactly one POST arrives, it is signed, and the queue row is delivered after one attempt. */
async function expectExactlyOneNotice(target: NoticeReceiver, connected: Connected): Promise<void> {
  const [notice] = await target.waitFor(1);
  const { id } = await expectSignedNotice(server.url, notice!, connected);
  const row = await deliveredRow(server.db, connected.authorizationId);
  expect(row).toMatchObject({ id, attempts: 1, failed_at: null, last_error: null, app_id: connected.appId, partner_id: connected.client.id });
  await sleep(500); // five poll intervals: nothing else may arrive
  expect(target.received).toHaveLength(1);
  expect(await server.db('removal_notices').where({ partner_id: connected.client.id })).toHaveLength(1);
}

async function expectTokenDead(connected: Connected): Promise<void> {
  expect((await introspect(server.url, connected.client, connected.tokens.access_token)).active).toBe(false);
  const response = await fetch(`${server.url}/v2/apps/${connected.appId}`, { headers: { authorization: `Bearer ${connected.tokens.access_token}` } });
  expect(response.status).toBe(401);
}

describe('every removal path sends one signed notice', () => {
  it('the owner presses Remove on the dashboard', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const { browser } = await logInToDashboard(server.url, connected.owner);
    const appPage = await (await browser.get(`/dashboard/apps/${connected.appId}`)).text();
    const confirm = await (await browser.get(/href="([^"]*\/remove)"/.exec(appPage)![1]!)).text();
    const response = await browser.post(formAction(confirm, '/remove'), { _csrf: field(confirm, '_csrf')! });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/dashboard/apps/${connected.appId}`);
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('the partner calls DELETE /oauth/authorization with its Bearer token', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${connected.tokens.access_token}` },
    });
    expect(response.status).toBe(204);
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('the app removes the partner with DELETE /oauth/authorization?client_id= and app credentials', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const app = await server.db('apps').where({ id: connected.appId }).first();
    const key = await appKey(server.db, app);
    const response = await fetch(`${server.url}/oauth/authorization?client_id=${connected.client.id}`, {
      method: 'DELETE',
      headers: { authorization: basic(key) },
    });
    expect(response.status).toBe(204);
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('the partner revokes its token at POST /oauth/revoke (RFC 7009)', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const response = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(connected.client.id, connected.client.secret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: connected.tokens.access_token, token_type_hint: 'access_token' }),
    });
    expect(response.status).toBe(200);
    await expectTokenDead(connected);
    expect(await server.db('authorizations').where({ id: connected.authorizationId }).first()).toMatchObject({ revoked_at: expect.any(Date) });
    await expectExactlyOneNotice(target, connected);
  });

  it('the operator runs `authorization revoke`', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const result = await runCommand(
      { db: server.db, settings: server.settings, hasher, box: async () => box },
      ['authorization', 'revoke', connected.authorizationId],
    );
    expect(result).toEqual({ id: connected.authorizationId, revoked: true });
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('the app itself is deleted (DELETE /v2/apps/{appId})', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const app = await server.db('apps').where({ id: connected.appId }).first();
    const key = await appKey(server.db, app);
    const response = await fetch(`${server.url}/v2/apps/${connected.appId}`, { method: 'DELETE', headers: { authorization: basic(key) } });
    expect(response.status).toBe(200);
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('revokeGrant, the one function every path goes through', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const { grant_id: grantId } = await server.db('authorizations').where({ id: connected.authorizationId }).first();
    await revokeGrant(server.db, grantId, { cause: 'operator', actor: { type: 'operator' } });
    await revokeGrant(server.db, grantId, { cause: 'operator', actor: { type: 'operator' } }); // a second removal of the same grant queues nothing more
    await expectTokenDead(connected);
    await expectExactlyOneNotice(target, connected);
  });

  it('queues no notice for a partner without a removeUrl', async () => {
    const target = await receiver();
    const connected = await connectPartner(server.url, server.db, undefined);
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${connected.tokens.access_token}` },
    });
    expect(response.status).toBe(204);
    await expectTokenDead(connected);
    expect(await server.db('removal_notices').where({ partner_id: connected.client.id })).toEqual([]);
    expect(await server.db('removal_notices').where({ authorization_id: connected.authorizationId })).toEqual([]);
    await sleep(300);
    expect(target.received).toEqual([]);
  });
});

describe('delivery', () => {
  it('never makes the removal wait for the partner', async () => {
    const target = await receiver({ answers: [{ status: 200, delayMs: 2000 }] });
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const started = Date.now();
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${connected.tokens.access_token}` },
    });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(204);
    expect(elapsed, `DELETE /oauth/authorization took ${elapsed} ms`).toBeLessThan(1500); // the partner answers only after 2000 ms
    const queued = await server.db('removal_notices').where({ authorization_id: connected.authorizationId }).first();
    expect(queued, 'the notice is queued in the removal itself').toBeTruthy();
    expect(queued.delivered_at).toBeNull();

    const [notice] = await target.waitFor(1);
    await expectSignedNotice(server.url, notice!, connected);
    const row = await deliveredRow(server.db, connected.authorizationId);
    expect(row.attempts).toBe(1);
    expect(new Date(row.delivered_at).getTime() - notice!.at).toBeGreaterThanOrEqual(1900);
  });

  it('retries with backoff: 500, 500, then 200 is delivered on the third attempt', async () => {
    const target = await receiver({ answers: [{ status: 500 }, { status: 500 }], fallback: { status: 200 } });
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${connected.tokens.access_token}` },
    });
    expect(response.status).toBe(204);

    const attempts = await target.waitFor(3);
    const row = await deliveredRow(server.db, connected.authorizationId);
    expect(row).toMatchObject({ attempts: 3, failed_at: null, last_error: null });
    expect(row.delivered_at).toBeInstanceOf(Date);
    // The same notice each time, each time freshly signed.
    for (const attempt of attempts) {
      expect(attempt.body).toBe(attempts[0]!.body);
      await expectSignedNotice(server.url, attempt, connected);
    }
    // Exponential backoff from NOTICE_RETRY_BASE_MS=100: about 100 ms, then about 200 ms.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(90);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(190);
    await sleep(500);
    expect(target.received).toHaveLength(3);
  });

  it('gives up after NOTICE_MAX_ATTEMPTS and marks the notice failed', async () => {
    const target = await receiver({ fallback: { status: 503 } });
    const connected = await connectPartner(server.url, server.db, `${target.url}/removed`);
    const response = await fetch(`${server.url}/oauth/authorization`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${connected.tokens.access_token}` },
    });
    expect(response.status).toBe(204);
    await target.waitFor(3);
    const row = await eventually(async () => {
      const found = await server.db('removal_notices').where({ authorization_id: connected.authorizationId }).first();
      return found?.failed_at ? found : undefined;
    }, 10_000, 'the notice to be marked failed');
    expect(row).toMatchObject({ attempts: 3, delivered_at: null, last_error: 'HTTP 503' });
    await sleep(1000);
    expect(target.received).toHaveLength(3);
  });
});

describe('durability', () => {
  it('delivers a notice queued before a restart once the partner is reachable again', async () => {
    const store = await createDurableStore();
    const port = await reservePort();
    let target: NoticeReceiver | undefined;
    try {
      // First server: the removal happens while the partner's receiver is down.
      const first = await startServerOnStore(store, noticeEnv);
      let connected: Connected;
      try {
        const owner = await seedOwner(first.db, first.hasher, ['Support']);
        connected = await connectPartner(first.url, first.db, `http://127.0.0.1:${port}/removed`, {
          email: owner.email,
          password: owner.password,
          appId: owner.apps[0]!.id,
        });
        const response = await fetch(`${first.url}/oauth/authorization`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${connected.tokens.access_token}` },
        });
        expect(response.status).toBe(204);
      } finally {
        await first.close();
      }

      // A new server on the same database finds the notice still pending.
      const second = await startServerOnStore(store, noticeEnv);
      try {
        const pending = await second.db('removal_notices').where({ authorization_id: connected.authorizationId }).first();
        expect(pending, 'the notice survived the restart').toBeTruthy();
        expect(pending).toMatchObject({ delivered_at: null, failed_at: null });

        target = await startNoticeReceiver({ port });
        const [notice] = await target.waitFor(1, 15_000);
        const { id } = await expectSignedNotice(second.url, notice!, connected);
        expect(id).toBe(pending.id);
        const row = await eventually(async () => {
          const found = await second.db('removal_notices').where({ id }).first();
          return found?.delivered_at ? found : undefined;
        }, 10_000, 'delivery after the restart');
        expect(row.attempts).toBeGreaterThanOrEqual(1);
        expect(row.failed_at).toBeNull();
        await sleep(400);
        expect(target.received).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await target?.close();
      await store.cleanup();
    }
  });
});
