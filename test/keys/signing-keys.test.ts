import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { runCommand } from '../../src/cli/commands.ts';
import { createLogger } from '../../src/log/logger.ts';
import { passwordHasherFor } from '../../src/accounts/password-hasher.ts';
import { createPartner } from '../../src/partners/partners.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import type { Settings } from '../../src/config/settings.ts';
import { box, keyEncryptionEnv, oauthToken } from '../support/credentials.ts';
import { createPostgresDatabase, createTestDatabase, testDatabaseKind } from '../support/database.ts';
import { checkNoticeSignature, eventually, startNoticeReceiver, type NoticeReceiver, type ReceivedNotice } from '../support/notices.ts';
import { seedOwner } from '../support/owner-web.ts';
import { runCli } from '../support/cli.ts';
import { startTestServer, testSettings, type TestServer } from '../support/server.ts';

/**
 * Signing keys follow a rotation on every running instance: a new key is
 * published in /oauth/jwks within one refresh interval, signs removal notices
 * only from its activation time, and a retired key stays published for the
 * retention, then leaves. `signing-keys list` and `retire` report and refuse.
 */

const keyEnv = {
  SIGNING_KEYS_REFRESH_INTERVAL_MS: '200',
  SIGNING_KEY_ACTIVATION_DELAY: '5',
  SIGNING_KEY_RETIRED_RETENTION: '2',
  NOTICE_POLL_INTERVAL_MS: '100',
  NOTICE_RETRY_BASE_MS: '100',
  NOTICE_MAX_ATTEMPTS: '2',
  NOTICE_TIMEOUT_MS: '500',
  ...keyEncryptionEnv,
};

interface Jwk {
  kid: string;
  kty: string;
  d?: string;
}

async function publishedKids(base: string): Promise<string[]> {
  const response = await fetch(`${base}/oauth/jwks`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
  const { keys } = (await response.json()) as { keys: Jwk[] };
  for (const key of keys) expect(key.d, 'no private part is ever published').toBeUndefined();
  return keys.map((key) => key.kid);
}

const sleepUntil = (time: number) => new Promise((done) => setTimeout(done, Math.max(0, time - Date.now())));

/** A partner with a removeUrl on `receiver`, connected by a new owner through the real flow on `base`. */
async function connectedPartner(base: string, db: Knex, settings: Settings, receiver: NoticeReceiver) {
  const hasher = passwordHasherFor(settings);
  const owner = await seedOwner(db, hasher);
  const { partner, clientSecret } = await createPartner(db, hasher, settings, {
    name: 'Notified Integration',
    redirectUris: ['https://partner.example/callback'],
    permissions: ['app:read'],
  });
  const tokens = await oauthToken(base, { id: partner.id, secret: clientSecret }, owner, owner.apps[0]!.id);
  // Registered after the installation: the removal's is the one notice these tests wait for.
  await db('partners').where({ id: partner.id }).update({ remove_url: `${receiver.url}/removed` });
  return tokens;
}

/** Removes the authorization with the partner's own token; resolves with the notice that follows. */
async function removeAndReceive(base: string, accessToken: string, receiver: NoticeReceiver): Promise<ReceivedNotice> {
  const before = receiver.received.length;
  const removed = await fetch(`${base}/oauth/authorization`, { method: 'DELETE', headers: { authorization: `Bearer ${accessToken}` } });
  expect(removed.status).toBe(204);
  return (await receiver.waitFor(before + 1))[before]!;
}

function signatureKid(notice: ReceivedNotice): string {
  return /kid=([^,]+)/.exec(String(notice.headers['appgrant-signature']))![1]!;
}

async function expectVerifies(base: string, notice: ReceivedNotice): Promise<void> {
  const signature = await checkNoticeSignature(base, notice.headers['appgrant-signature'], notice.body);
  expect(signature.valid, `the notice signed with ${signature.kid} verifies with ${base}/oauth/jwks`).toBe(true);
}

describe('signing keys on one instance', () => {
  let server: TestServer;
  let receiver: NoticeReceiver;
  const command = (argv: string[]) =>
    runCommand({ db: server.db, settings: server.settings, hasher: passwordHasherFor(server.settings), box: async () => box }, argv);

  beforeAll(async () => {
    server = await startTestServer(keyEnv);
    receiver = await startNoticeReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await server?.close();
  });

  let first: string;
  let second: string;
  let signedBeforeActivation: ReceivedNotice;

  it('starts with one published key that signs, which cannot be retired: it is the only key', async () => {
    const kids = await publishedKids(server.url);
    expect(kids).toHaveLength(1);
    first = kids[0]!;
    const listed = (await command(['signing-keys', 'list'])) as { keys: { kid: string; state: string }[] };
    expect(listed.keys).toEqual([expect.objectContaining({ kid: first, state: 'signing', retired_at: null, withdrawn_at: null })]);
    await expect(command(['signing-keys', 'retire', first])).rejects.toThrow(/is the only key/);
  });

  it('publishes a rotated key within a refresh interval and signs with it only from its activation time', async () => {
    const tokens = [await connectedPartner(server.url, server.db, server.settings, receiver), await connectedPartner(server.url, server.db, server.settings, receiver)];
    const rotated = (await command(['signing-keys', 'rotate'])) as { kid: string; state: string; published_at: Date; signs_from: Date };
    second = rotated.kid;
    expect(rotated.state).toBe('pending');
    const activation = new Date(rotated.signs_from).getTime();
    expect(activation - new Date(rotated.published_at).getTime()).toBe(5000);

    await eventually(async () => (await publishedKids(server.url)).includes(second), 1000, 'the new key in /oauth/jwks');
    expect(await publishedKids(server.url)).toEqual([first, second]);
    await expect(command(['signing-keys', 'retire', first])).rejects.toThrow(/signing now: rotate first/);

    // Before its activation the old key still signs; both are published, so either way the partner can verify.
    signedBeforeActivation = await removeAndReceive(server.url, tokens[0]!.access_token, receiver);
    expect(Date.now(), 'the first notice arrived before the activation time').toBeLessThan(activation);
    expect(signatureKid(signedBeforeActivation)).toBe(first);
    await expectVerifies(server.url, signedBeforeActivation);

    await sleepUntil(activation);
    const signedAfter = await removeAndReceive(server.url, tokens[1]!.access_token, receiver);
    expect(signatureKid(signedAfter)).toBe(second);
    await expectVerifies(server.url, signedAfter);
    expect(await publishedKids(server.url), 'the signing key comes first').toEqual([second, first]);
    const listed = (await command(['signing-keys', 'list'])) as { keys: { kid: string; state: string }[] };
    expect(listed.keys.map(({ kid, state }) => [kid, state])).toEqual([[second, 'signing'], [first, 'superseded']]);
  });

  it('keeps a retired key published for the retention, then withdraws it; refuses unknown and twice-retired keys', async () => {
    await expect(command(['signing-keys', 'retire', second])).rejects.toThrow(/signing now/);
    await expect(command(['signing-keys', 'retire', 'no-such-kid'])).rejects.toThrow(/no signing key no-such-kid/);
    const retired = (await command(['signing-keys', 'retire', first])) as { state: string; retired_at: Date; withdrawn_at: Date };
    expect(retired.state).toBe('retired');
    expect(new Date(retired.withdrawn_at).getTime() - new Date(retired.retired_at).getTime()).toBe(2000);
    await new Promise((done) => setTimeout(done, 400));
    // Still published: what the retired key signed before still verifies.
    expect(await publishedKids(server.url)).toEqual([second, first]);
    await expectVerifies(server.url, signedBeforeActivation);

    await sleepUntil(new Date(retired.withdrawn_at).getTime());
    expect(await publishedKids(server.url)).toEqual([second]);
    const listed = (await command(['signing-keys', 'list'])) as { keys: { kid: string; state: string }[] };
    expect(listed.keys.map(({ kid, state }) => [kid, state])).toEqual([[second, 'signing'], [first, 'withdrawn']]);
    await expect(command(['signing-keys', 'retire', first])).rejects.toThrow(/already retired/);
  });
});

describe('the key set before rotations were per key', () => {
  it('moves the keys an earlier version kept in server_keys into the set, the newest signing, the others published', async () => {
    const database = await createTestDatabase();
    const legacy = [0, 1].map(() => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'ES256', use: 'sig' };
    });
    await database.knex('server_keys').insert({ purpose: 'signing-keys', material: JSON.stringify(legacy) });
    const settings = testSettings(keyEnv);
    const server = await startServer({ settings, logger: createLogger(settings.LOG_LEVEL), database });
    try {
      expect(await publishedKids(server.url)).toEqual(legacy.map((key) => key.kid));
      expect(await database.knex('server_keys').where({ purpose: 'signing-keys' })).toEqual([]);
      const stored = await database.knex('signing_keys').select('sealed_private_jwk');
      for (const row of stored) expect(row.sealed_private_jwk, 'private keys are sealed at rest').not.toContain(legacy[0]!.d);
    } finally {
      await server.close();
    }
  });

  it('refuses an activation delay that does not leave every instance time to publish first', () => {
    expect(() => testSettings({ SIGNING_KEYS_REFRESH_INTERVAL_MS: '5000', SIGNING_KEY_ACTIVATION_DELAY: '9' })).toThrow(
      /SIGNING_KEY_ACTIVATION_DELAY: must be at least twice SIGNING_KEYS_REFRESH_INTERVAL_MS/,
    );
    expect(() => testSettings({ SIGNING_KEY_RETIRED_RETENTION: '60' })).toThrow(/SIGNING_KEY_RETIRED_RETENTION: must cover the removal notice retry window/);
  });
});

describe.runIf(testDatabaseKind === 'postgres')('signing keys across two instances on one PostgreSQL', () => {
  let postgres: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  let settings: Settings;
  let receiver: NoticeReceiver;
  const env = { ...keyEnv, SIGNING_KEYS_REFRESH_INTERVAL_MS: '500', SIGNING_KEY_RETIRED_RETENTION: '3' };
  const cli = async (args: string[]) => {
    const result = await runCli(args, { ...env, DATABASE_URL: postgres.url });
    return { ...result, json: result.code === 0 ? (JSON.parse(result.stdout) as Record<string, string>) : undefined };
  };

  beforeAll(async () => {
    postgres = await createPostgresDatabase();
    settings = testSettings({ ...env, DATABASE_URL: postgres.url });
    const logger = createLogger(settings.LOG_LEVEL);
    a = await startServer({ settings, logger });
    b = await startServer({ settings: { ...settings, ISSUER: a.issuer }, logger });
    receiver = await startNoticeReceiver();
  });

  afterAll(async () => {
    await receiver?.close();
    await b?.close();
    await a?.close();
    await postgres?.drop();
  });

  it('a rotation through the CLI is published by both within a second, and both sign with it after the delay', async () => {
    const [original] = await publishedKids(a.url);
    expect(await publishedKids(b.url)).toEqual([original]);
    const tokens = await connectedPartner(a.url, a.database.knex, settings, receiver);

    const rotated = await cli(['signing-keys', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const kid = rotated.json!.kid!;
    const rotatedAt = Date.now();
    await eventually(async () => (await publishedKids(a.url)).includes(kid) && (await publishedKids(b.url)).includes(kid), 3000, 'both instances publish the new key');
    const seenAfterMs = Date.now() - rotatedAt;
    expect(seenAfterMs, 'published within two refresh intervals').toBeLessThan(1000);

    await sleepUntil(new Date(rotated.json!.signs_from!).getTime());
    // Removed on B; whichever instance delivers the notice signs it with the new key, published by both.
    const notice = await removeAndReceive(b.url, tokens.access_token, receiver);
    expect(signatureKid(notice)).toBe(kid);
    await expectVerifies(a.url, notice);
    await expectVerifies(b.url, notice);

    const refused = await cli(['signing-keys', 'retire', kid]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/signing now/);
    const retired = await cli(['signing-keys', 'retire', original!]);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.json).toMatchObject({ kid: original, state: 'retired' });
    expect(await publishedKids(a.url)).toContain(original);
    expect(await publishedKids(b.url)).toContain(original);
    await sleepUntil(new Date(retired.json!.withdrawn_at!).getTime());
    expect(await publishedKids(a.url)).toEqual([kid]);
    expect(await publishedKids(b.url)).toEqual([kid]);
    const listed = await cli(['signing-keys', 'list']);
    expect((listed.json as unknown as { keys: { kid: string; state: string }[] }).keys.map((key) => key.state)).toEqual(['signing', 'withdrawn']);
  });
});
