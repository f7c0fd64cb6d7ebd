import { createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { Knex } from 'knex';
import type { JWK } from 'oidc-provider';
import type { Logger } from '../log/logger.ts';
import type { SecretBox } from './secret-box.ts';

/**
 * The ES256 keys that sign what appgrant sends partners (removal notices),
 * published at /oauth/jwks, shared by every instance through the
 * `signing_keys` table. The rule every instance follows:
 *
 * - a key is published from the moment it is created (`signing-keys rotate`);
 * - it signs from `signs_from`, SIGNING_KEY_ACTIVATION_DELAY later: every
 *   instance re-reads the set each SIGNING_KEYS_REFRESH_INTERVAL_MS (at most
 *   half that delay), so by then each one publishes it and nothing is ever
 *   signed with a key some instance does not publish;
 * - the signing key is the newest whose `signs_from` has come and that is
 *   not retired; the keys it replaced stay published;
 * - `signing-keys retire` (never the signing key, never the last key) stops a
 *   key being published SIGNING_KEY_RETIRED_RETENTION later (at least the
 *   notice retry window), so whatever it signed can still be verified.
 *
 * Polling, rather than LISTEN/NOTIFY, because it works the same behind a
 * transaction-pooling PgBouncer and on the embedded database.
 */

export interface SigningKeyRules {
  /** Seconds between a key's publication and its first signature. */
  activationDelaySeconds: number;
  /** Seconds a retired key stays published. */
  retiredRetentionSeconds: number;
}

interface SigningKeyRow {
  kid: string;
  sealed_private_jwk: string;
  public_jwk: JWK;
  created_at: Date;
  signs_from: Date;
  retired_at: Date | null;
  withdrawn_at: Date | null;
}

export type SigningKeyState = 'pending' | 'signing' | 'superseded' | 'retired' | 'withdrawn';

export interface SigningKeyReport {
  kid: string;
  state: SigningKeyState;
  published_at: Date;
  signs_from: Date;
  retired_at: Date | null;
  /** When a retired key leaves /oauth/jwks. */
  withdrawn_at: Date | null;
}

/** A refused retirement: the reason is for the operator. */
export class SigningKeyRefusal extends Error {}

const sealedFor = (kid: string) => `signing-key:${kid}`;

/** What any key lifecycle decision needs of a key, whether read now or loaded earlier. */
interface KeyTimes {
  kid: string;
  signsFrom: number;
  retired: boolean;
  withdrawnAt: number | undefined;
}

const timesOf = (row: SigningKeyRow): KeyTimes => ({
  kid: row.kid,
  signsFrom: new Date(row.signs_from).getTime(),
  retired: row.retired_at !== null,
  withdrawnAt: row.withdrawn_at ? new Date(row.withdrawn_at).getTime() : undefined,
});

/** The key that signs at `now`: the newest, by signs_from, that has reached it and is not retired. */
function signingKid(keys: KeyTimes[], now: number): string | undefined {
  let chosen: KeyTimes | undefined;
  for (const key of keys) {
    if (key.retired || key.signsFrom > now) continue;
    if (!chosen || key.signsFrom > chosen.signsFrom) chosen = key;
  }
  return chosen?.kid;
}

const isPublished = (key: KeyTimes, now: number) => key.withdrawnAt === undefined || key.withdrawnAt > now;

function stateOf(key: KeyTimes, signing: string | undefined, now: number): SigningKeyState {
  if (!isPublished(key, now)) return 'withdrawn';
  if (key.retired) return 'retired';
  if (key.signsFrom > now) return 'pending';
  return key.kid === signing ? 'signing' : 'superseded';
}

function newKeyRow(box: SecretBox, publishedAt: Date, signsFrom: Date, privateJwk: JWK = newPrivateJwk()) {
  const kid = String(privateJwk.kid);
  const { kty, crv, x, y } = privateJwk as JWK & { crv: string; x: string; y: string };
  return {
    kid,
    sealed_private_jwk: box.seal(JSON.stringify(privateJwk), sealedFor(kid)),
    public_jwk: JSON.stringify({ kty, crv, x, y, kid, alg: 'ES256', use: 'sig' }),
    created_at: publishedAt,
    signs_from: signsFrom,
  };
}

function newPrivateJwk(): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: randomUUID(), alg: 'ES256', use: 'sig' };
}

/**
 * Gives the set its first key when it has none, under a transaction-scoped
 * advisory lock so that instances starting together make one. Keys an
 * earlier version kept in server_keys move here, the newest signing; with
 * none, a new key signs at once (nothing signed before it, so nothing waits).
 */
export async function ensureSigningKeys(db: Knex, box: SecretBox): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['appgrant:signing-keys']);
    if (await trx('signing_keys').first('kid')) return;
    const legacy = await trx('server_keys').select('material').where({ purpose: 'signing-keys' }).first();
    const keys: JWK[] = Array.isArray(legacy?.material) ? (legacy.material as JWK[]) : [newPrivateJwk()];
    const now = Date.now();
    // Newest first: the first signs now, each older one as if it had signed a moment before.
    await trx('signing_keys').insert(keys.map((jwk, index) => newKeyRow(box, new Date(now), new Date(now - index * 1000), jwk)));
    await trx('server_keys').where({ purpose: 'signing-keys' }).delete();
  });
}

/** Publishes a new key now; it signs from activationDelaySeconds later. */
export async function rotateSigningKey(db: Knex, box: SecretBox, rules: SigningKeyRules): Promise<SigningKeyReport> {
  const now = Date.now();
  const row = newKeyRow(box, new Date(now), new Date(now + rules.activationDelaySeconds * 1000));
  const [created] = (await db('signing_keys').insert(row).returning('*')) as SigningKeyRow[];
  return (await listSigningKeys(db)).find((key) => key.kid === created!.kid)!;
}

/** Every key still in the table, newest first, with its state now. */
export async function listSigningKeys(db: Knex): Promise<SigningKeyReport[]> {
  const rows: SigningKeyRow[] = await db('signing_keys').select('*').orderBy('signs_from', 'desc');
  return reportsOf(rows, Date.now());
}

function reportsOf(rows: SigningKeyRow[], now: number): SigningKeyReport[] {
  const signing = signingKid(rows.map(timesOf), now);
  return rows.map((row) => ({
    kid: row.kid,
    state: stateOf(timesOf(row), signing, now),
    published_at: row.created_at,
    signs_from: row.signs_from,
    retired_at: row.retired_at,
    withdrawn_at: row.withdrawn_at,
  }));
}

/**
 * Retires a key: it never signs again and leaves /oauth/jwks
 * retiredRetentionSeconds later. Refused for the key signing now (the only
 * key, or else: rotate first, and retire it once its successor signs), so a
 * key always signs, and for a key already retired.
 */
export async function retireSigningKey(db: Knex, kid: string, rules: SigningKeyRules): Promise<SigningKeyReport> {
  return db.transaction(async (trx) => {
    const rows: SigningKeyRow[] = await trx('signing_keys').select('*').forUpdate();
    const now = Date.now();
    const target = reportsOf(rows, now).find((key) => key.kid === kid);
    if (!target) throw new SigningKeyRefusal(`no signing key ${kid}`);
    if (target.state === 'retired' || target.state === 'withdrawn') throw new SigningKeyRefusal(`signing key ${kid} is already retired`);
    if (target.state === 'signing') {
      const only = rows.filter((row) => row.retired_at === null).length === 1;
      throw new SigningKeyRefusal(
        only ? `signing key ${kid} is the only key` : `signing key ${kid} is the one signing now: rotate first, and retire it once the new key signs`,
      );
    }
    const [retired] = (await trx('signing_keys')
      .where({ kid })
      .update({ retired_at: new Date(now), withdrawn_at: new Date(now + rules.retiredRetentionSeconds * 1000) })
      .returning('*')) as SigningKeyRow[];
    return reportsOf([retired!], now)[0]!;
  });
}

interface LoadedKey extends KeyTimes {
  publicJwk: JWK;
  sealed: string;
}

/**
 * One instance's view of the key set, re-read every refreshIntervalMs.
 * Which key is published or signs is decided at the moment of asking, from
 * the times in the rows, so a key starts signing on time even between reads.
 */
export class SigningKeySet {
  readonly #db: Knex;
  readonly #box: SecretBox;
  readonly #refreshIntervalMs: number;
  readonly #logger: Logger;
  readonly #privateKeys = new Map<string, { jwk: JWK; key: KeyObject }>();
  #keys: LoadedKey[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(db: Knex, box: SecretBox, refreshIntervalMs: number, logger: Logger) {
    this.#db = db;
    this.#box = box;
    this.#refreshIntervalMs = refreshIntervalMs;
    this.#logger = logger;
  }

  /** Reads the set (creating its first key if needed); then keeps re-reading it until stop(). */
  async start(): Promise<void> {
    await ensureSigningKeys(this.#db, this.#box);
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.#logger.warn({ err: error }, 'signing keys could not be re-read'));
    }, this.#refreshIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async refresh(): Promise<void> {
    const rows: SigningKeyRow[] = await this.#db('signing_keys').select('*');
    this.#keys = rows.map((row) => ({ ...timesOf(row), publicJwk: row.public_jwk, sealed: row.sealed_private_jwk }));
  }

  /** The public keys /oauth/jwks lists now: every key not withdrawn, the signing one first. */
  published(now = Date.now()): JWK[] {
    const signing = signingKid(this.#keys, now);
    return this.#keys
      .filter((key) => isPublished(key, now))
      .sort((a, b) => Number(b.kid === signing) - Number(a.kid === signing) || b.signsFrom - a.signsFrom)
      .map((key) => key.publicJwk);
  }

  /** The key to sign with now, with its kid; undefined only before start(). */
  signingKey(now = Date.now()): { kid: string; key: KeyObject; jwk: JWK } | undefined {
    const kid = signingKid(this.#keys, now);
    const loaded = kid ? this.#keys.find((key) => key.kid === kid) : undefined;
    return loaded && { kid: loaded.kid, ...this.#opened(loaded) };
  }

  /** Seconds the key that signs now has been signing (0 before start()), for the server's metrics. */
  signingKeyAgeSeconds(now = Date.now()): number {
    const kid = signingKid(this.#keys, now);
    const signing = this.#keys.find((key) => key.kid === kid);
    return signing ? Math.max(0, (now - signing.signsFrom) / 1000) : 0;
  }

  #opened(loaded: LoadedKey): { jwk: JWK; key: KeyObject } {
    let opened = this.#privateKeys.get(loaded.kid);
    if (!opened) {
      const plain = this.#box.open(loaded.sealed, sealedFor(loaded.kid));
      if (plain === undefined) throw new Error(`signing key ${loaded.kid} cannot be opened with the configured KEY_ENCRYPTION_KEYS`);
      const jwk = JSON.parse(plain) as JWK;
      opened = { jwk, key: createPrivateKey({ key: jwk as never, format: 'jwk' }) };
      this.#privateKeys.set(loaded.kid, opened);
    }
    return opened;
  }
}
