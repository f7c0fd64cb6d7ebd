import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';
import { migrateToLatest, openDatabase, type Database, type Knex } from '../../src/db/database.ts';
import { retentionRules } from '../../src/retention/rules.ts';
import { sweepOptionsFrom, sweepRetention, type SweepOptions } from '../../src/retention/sweep.ts';
import { createTestDatabase } from '../support/database.ts';
import { newCliStore, runCli, type CliStore } from '../support/cli.ts';
import { startTestServer, testSettings } from '../support/server.ts';

const day = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms);
const ahead = (ms: number) => new Date(Date.now() + ms);
const defaults = sweepOptionsFrom(testSettings());

let sequence = 0;
const nextId = (prefix: string) => `${prefix}${(sequence += 1)}`;

/** An account, app and partner for the rows that need them. */
async function seedOwners(db: Knex) {
  const accountId = nextId('acc_');
  const appId = nextId('app_');
  const partnerId = nextId('ptn_');
  await db('accounts').insert({ id: accountId, email: `${accountId}@example.com`, password_hash: 'x' });
  await db('apps').insert({ id: appId, account_id: accountId, display_name: 'Support' });
  await db('partners').insert({ id: partnerId, name: 'Acme', secret_hash: 'x' });
  return { accountId, appId, partnerId };
}

/**
 * For every table, rows just past its retention (named `old…`) and rows just
 * inside it or still live (named `kept…`), with the default settings.
 */
async function seedEveryTable(db: Knex): Promise<void> {
  const { accountId, appId, partnerId } = await seedOwners(db);
  const authorization = (id: string, revokedAt: Date | null) => ({
    id, partner_id: partnerId, app_id: appId, account_id: accountId, grant_id: `grant_${id}`, permissions: '[]', revoked_at: revokedAt,
  });
  await db('authorizations').insert([
    authorization(nextId('old_auth_'), ago(91 * day)),
    authorization(nextId('kept_auth_'), ago(89 * day)),
    { ...authorization(nextId('kept_auth_live_'), null), created_at: ago(900 * day) },
  ]);
  const key = (id: string, fields: { revoked_at?: Date; expires_at?: Date }) => ({
    id, owner_type: 'app', account_id: accountId, app_id: appId, display_name: id, secret_ciphertext: 'x', ...fields,
  });
  await db('api_keys').insert([
    key(nextId('old_key_revoked_'), { revoked_at: ago(91 * day) }),
    key(nextId('old_key_expired_'), { expires_at: ago(91 * day) }),
    key(nextId('kept_key_revoked_'), { revoked_at: ago(10 * day) }),
    key(nextId('kept_key_expired_'), { expires_at: ago(10 * day) }),
    key(nextId('kept_key_live_'), {}),
  ]);
  const notice = (id: string, fields: Record<string, Date>) => ({
    id, partner_id: partnerId, app_id: appId, authorization_id: 'a', url: 'https://partner.example/removed', payload: '{}', ...fields,
  });
  const [oldNotice, keptNotice] = [nextId('old_ntc_delivered_'), nextId('kept_ntc_delivered_')];
  await db('removal_notices').insert([
    notice(oldNotice, { delivered_at: ago(31 * day) }),
    notice(nextId('old_ntc_failed_'), { failed_at: ago(31 * day) }),
    notice(keptNotice, { delivered_at: ago(29 * day) }),
    notice(nextId('kept_ntc_pending_'), { created_at: ago(100 * day) }),
  ]);
  // A notice's delivery attempts go with it.
  await db('notice_attempts').insert([oldNotice, keptNotice].map((id) => ({ notice_id: id, status_code: 200, latency_ms: 5, attempted_at: ago(31 * day) })));
  const record = (id: string, expiresAt: Date | null) => ({ kind: 'AccessToken', id, payload: '{}', expires_at: expiresAt });
  await db('oauth_records').insert([record(nextId('old_rec_'), ago(1000)), record(nextId('kept_rec_'), ahead(60_000)), record(nextId('kept_rec_forever_'), null)]);
  const keptSession = nextId('kept_ses_');
  await db('web_sessions').insert([
    { id_hash: nextId('old_ses_'), account_id: accountId, expires_at: ago(1000) },
    { id_hash: keptSession, account_id: accountId, expires_at: ahead(60_000) },
  ]);
  // Flashes hang on a session that stays, so only their own expiry removes them.
  const flash = (id: string, expiresAt: Date) => ({ id, session_id: keptSession, page: '/dashboard', sealed: 'x', expires_at: expiresAt });
  await db('page_flashes').insert([flash(nextId('old_flash_'), ago(1000)), flash(nextId('kept_flash_'), ahead(60_000))]);
  await db('used_proofs').insert([
    { id: nextId('old_prf_'), expires_at: ago(1000) },
    { id: nextId('kept_prf_'), expires_at: ahead(60_000) },
  ]);
  await db('rate_limits').insert([
    { key: nextId('old_rl_login:someone@example.com'), points: 5, expire: Date.now() - 1000 },
    { key: nextId('kept_rl_login:someone@example.com'), points: 5, expire: Date.now() + 60_000 },
  ]);
  await db('events').insert([
    { type: 'owner.logged_out', actor_type: 'system', target_type: 'test', target_id: nextId('old_evt_'), occurred_at: ago(401 * day) },
    { type: 'owner.logged_out', actor_type: 'system', target_type: 'test', target_id: nextId('kept_evt_'), occurred_at: ago(399 * day) },
  ]);
  const signingKey = (kid: string, withdrawnAt: Date | null) => ({
    kid, sealed_private_jwk: 'x', public_jwk: '{}', signs_from: ago(30 * day), retired_at: withdrawnAt && ago(2 * day), withdrawn_at: withdrawnAt,
  });
  await db('signing_keys').insert([signingKey(nextId('old_sig_'), ago(1000)), signingKey(nextId('kept_sig_'), ahead(day))]);
}

/** Each rule's table, and the ids of what is left in it. */
const idColumn: Record<string, string> = { oauth_records: 'id', web_sessions: 'id_hash', rate_limits: 'key', signing_keys: 'kid', events: 'target_id' };
async function leftIn(db: Knex, table: string): Promise<string[]> {
  const column = idColumn[table] ?? 'id';
  return (await db(table).select(column)).map((row: Record<string, string>) => row[column]!).filter((id) => /^(old|kept)_/.test(id));
}

async function countOld(db: Knex): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const rule of retentionRules) counts[rule.name] = (await leftIn(db, rule.table)).filter((id) => id.startsWith('old_')).length;
  return counts;
}

describe('the retention sweep', () => {
  let database: Database;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.close();
  });

  it('removes, table by table, what is past its retention and keeps what is not, in batches', async () => {
    const db = database.knex;
    await seedEveryTable(db);
    const expected = await countOld(db);
    expect(Object.values(expected).every((count) => count >= 1)).toBe(true);

    const report = await sweepRetention(db, { ...defaults, batch: 1 });
    expect(report).toEqual({ removed: expected, total: Object.values(expected).reduce((a, b) => a + b, 0), complete: true });
    for (const rule of retentionRules) {
      const left = await leftIn(db, rule.table);
      expect(left.filter((id) => id.startsWith('old_')), rule.table).toEqual([]);
      expect(left.filter((id) => id.startsWith('kept_')).length, rule.table).toBeGreaterThanOrEqual(1);
    }
    const attempts = (await db('notice_attempts').select('notice_id')).map((row: { notice_id: string }) => row.notice_id);
    expect(attempts.filter((id) => id.startsWith('old_'))).toEqual([]);
    expect(attempts.filter((id) => id.startsWith('kept_')).length).toBeGreaterThanOrEqual(1);
    expect(await sweepRetention(db, defaults)).toMatchObject({ total: 0, complete: true });
  });

  it('follows the settings: a shorter retention removes younger rows', async () => {
    const db = database.knex;
    await seedEveryTable(db);
    const options: SweepOptions = { ...defaults, ENDED_AUTHORIZATION_RETENTION_DAYS: 1, ENDED_KEY_RETENTION_DAYS: 1, SETTLED_NOTICE_RETENTION_DAYS: 1, EVENT_RETENTION_DAYS: 1 };
    await sweepRetention(db, options);
    // Only what has not ended is left: live authorizations and keys, pending notices.
    expect((await leftIn(db, 'authorizations')).every((id) => id.startsWith('kept_auth_live_'))).toBe(true);
    expect((await leftIn(db, 'api_keys')).every((id) => id.startsWith('kept_key_live_'))).toBe(true);
    expect((await leftIn(db, 'removal_notices')).every((id) => id.startsWith('kept_ntc_pending_'))).toBe(true);
    for (const table of ['authorizations', 'api_keys', 'removal_notices']) expect((await leftIn(db, table)).length, table).toBeGreaterThanOrEqual(1);
    expect(await leftIn(db, 'events')).toEqual([]);
  });

  it('two sweepers at once share the work: nothing is removed twice, nothing fails, nothing is left', async () => {
    const db = database.knex;
    for (let round = 0; round < 4; round += 1) await seedEveryTable(db);
    await db('events').insert(Array.from({ length: 60 }, () => ({ type: 'owner.logged_out', actor_type: 'system', target_type: 'test', target_id: nextId('old_evt_'), occurred_at: ago(500 * day) })));
    const expected = await countOld(db);

    const reports = await Promise.all([sweepRetention(db, { ...defaults, batch: 3 }), sweepRetention(db, { ...defaults, batch: 3 })]);
    for (const rule of retentionRules) {
      expect(reports[0].removed[rule.name]! + reports[1].removed[rule.name]!, rule.name).toBe(expected[rule.name]);
    }
    expect(reports.some((report) => report.complete)).toBe(true);
    expect(Object.values(await countOld(db)).every((count) => count === 0)).toBe(true);
  });
});

describe('the server', () => {
  it('sweeps by itself within seconds of starting, then every RETENTION_SWEEP_INTERVAL', async () => {
    const server = await startTestServer({ RETENTION_SWEEP_INTERVAL: '1' });
    try {
      await seedEveryTable(server.db);
      const deadline = Date.now() + 15_000;
      while (Object.values(await countOld(server.db)).some((count) => count > 0) && Date.now() < deadline) await new Promise((wake) => setTimeout(wake, 200));
      expect(await countOld(server.db)).toEqual(Object.fromEntries(retentionRules.map((rule) => [rule.name, 0])));
      expect((await leftIn(server.db, 'events')).filter((id) => id.startsWith('kept_'))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

/** A database the CLI can open by itself: a data folder (PGlite) or a PostgreSQL database, seeded and closed again. */
async function seededStore(): Promise<CliStore> {
  const store = await newCliStore('sweep');
  const database = await openDatabase({ dataDir: store.dataDir, databaseUrl: store.env.DATABASE_URL });
  try {
    await migrateToLatest(database.knex);
    await seedEveryTable(database.knex);
  } finally {
    await database.close();
  }
  return store;
}

describe('appgrant sweep', () => {
  it('runs the sweep on demand and prints what it removed from each table', { timeout: 120_000 }, async () => {
    const store = await seededStore();
    try {
      const result = await runCli(['sweep'], store.env);
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { removed: Record<string, number>; total: number; complete: boolean };
      const every = Object.fromEntries(retentionRules.map((rule) => [rule.name, expect.any(Number)]));
      expect(report).toEqual({ removed: every, total: expect.any(Number), complete: true });
      expect(report.removed).toMatchObject({ ended_authorizations: 1, ended_keys: 2, settled_notices: 2, events: 1, withdrawn_signing_keys: 1, used_proofs: 1 });

      const again = await runCli(['sweep'], store.env);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ total: 0, complete: true });
      const wrong = await runCli(['sweep', '--everything'], store.env);
      expect(wrong.code).toBe(2);
      expect(wrong.stdout).toBe('');
      expect(wrong.stderr).toMatch(/usage: appgrant sweep/);
    } finally {
      await store.cleanup();
    }
  });
});

describe('retention settings', () => {
  it('default to documented retentions and are validated at start', () => {
    const settings = loadSettings({});
    expect(settings).toMatchObject({
      ENDED_AUTHORIZATION_RETENTION_DAYS: 90,
      ENDED_KEY_RETENTION_DAYS: 90,
      SETTLED_NOTICE_RETENTION_DAYS: 30,
      EVENT_RETENTION_DAYS: 400,
      RETENTION_SWEEP_INTERVAL: 300,
      RETENTION_SWEEP_BATCH: 1000,
    });
    for (const [name, value] of [
      ['ENDED_AUTHORIZATION_RETENTION_DAYS', '0'],
      ['ENDED_KEY_RETENTION_DAYS', 'forever'],
      ['SETTLED_NOTICE_RETENTION_DAYS', '3651'],
      ['RETENTION_SWEEP_INTERVAL', '0'],
      ['RETENTION_SWEEP_BATCH', '1.5'],
      ['RETENTION_SWEEP_BATCH', '100001'],
    ]) {
      expect(() => loadSettings({ [name!]: value! }), `${name}=${value}`).toThrow(SettingsError);
      expect(() => loadSettings({ [name!]: value! })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
    }
  });
});
